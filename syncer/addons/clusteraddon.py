"""The ``ClusterAddon`` object (``cluster-addon-<cluster>``, owned by its Cluster): its body.

Two writers, two field managers so server-side apply never drops the other's fields: the
controller (``csops``: owner reference, ``spec``, stage/run annotations) and the hook server
(``csops-hooks``: the annotations recording hook calls).
"""

from __future__ import annotations

from typing import Any

from csops.syncer.addons.cluster import ClusterView

GROUP = "clusterstack.x-k8s.io"
API_VERSION = f"{GROUP}/v1alpha1"
KIND = "ClusterAddon"
HOOKS_FIELD_MANAGER = "csops-hooks"


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
