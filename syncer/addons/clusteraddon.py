"""The ``ClusterAddon`` object (``cluster-addon-<cluster>``, owned by its Cluster): its body,
and reading and writing it.

Two writers, two field managers so server-side apply never drops the other's fields: the
controller (``csops``: owner reference, ``spec``, stage/run annotations) and the hook server
(``csops-hooks``: the annotations recording hook calls).
"""

from __future__ import annotations

from typing import Any

from csops.syncer.addons.cluster import ClusterView
from csops.syncer.addons.plan import RUN_ANNOTATION, STAGE_ANNOTATION
from csops.syncer.addons.waits import WAIT_ANNOTATION
from csops.syncer.kube import Kube
from csops.syncer.objects import Resource

GROUP = "clusterstack.x-k8s.io"
API_VERSION = f"{GROUP}/v1alpha1"
KIND = "ClusterAddon"
HOOKS_FIELD_MANAGER = "csops-hooks"


def resource(kube: Kube) -> Resource:
    return kube.resource(API_VERSION, KIND)


def skeleton(cluster: ClusterView) -> dict[str, Any]:
    """Identity, owner reference and ``spec.clusterRef``: what every writer sends."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": cluster.addon_name,
            "namespace": cluster.namespace,
            "ownerReferences": [
                {
                    "apiVersion": cluster.api_version,
                    "kind": "Cluster",
                    "name": cluster.name,
                    "uid": cluster.uid,
                }
            ],
        },
        "spec": {
            "clusterRef": {
                "apiVersion": cluster.api_version,
                "kind": "Cluster",
                "name": cluster.name,
                "namespace": cluster.namespace,
            }
        },
    }


def controller_body(
    cluster: ClusterView,
    *,
    cluster_stack: str,
    version: str,
    hook: str,
    annotations: dict[str, str],
) -> dict[str, Any]:
    """Everything the controller owns (send it whole: apply drops fields left out)."""
    body = skeleton(cluster)
    body["metadata"]["annotations"] = dict(annotations)
    body["spec"].update(clusterStack=cluster_stack, version=version, hook=hook)
    return body


class ClusterAddons:
    """Reads and writes the controller's side of each Cluster's ClusterAddon."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube

    def get(self, cluster: ClusterView) -> dict[str, Any] | None:
        """The live ClusterAddon of ``cluster``, or ``None``."""
        return self.kube.get_or_none(resource(self.kube), cluster.namespace, cluster.addon_name)

    def ensure(self, cluster: ClusterView) -> dict[str, Any]:
        """The live ClusterAddon, created empty when there is none yet."""
        live = self.get(cluster)
        if live is not None:
            return live
        return self.apply_spec(cluster, cluster_stack="", version="", hook="", stage="", run_key="")

    def apply_spec(
        self,
        cluster: ClusterView,
        *,
        cluster_stack: str,
        version: str,
        hook: str,
        stage: str,
        run_key: str,
        wait: str = "",
    ) -> dict[str, Any]:
        """Apply everything the controller owns: spec, run, stage and stage-wait annotations."""
        annotations = {RUN_ANNOTATION: run_key}
        if stage:
            annotations[STAGE_ANNOTATION] = stage
        if wait:
            annotations[WAIT_ANNOTATION] = wait
        body = controller_body(
            cluster,
            cluster_stack=cluster_stack,
            version=version,
            hook=hook,
            annotations=annotations,
        )
        return self.kube.apply(resource(self.kube), body)
