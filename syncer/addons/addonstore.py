"""Reading and writing the controller's side of each Cluster's ``ClusterAddon``."""

from __future__ import annotations

from typing import Any

from csops.syncer.addons.cluster import ClusterView
from csops.syncer.addons.clusteraddon import API_VERSION, KIND, controller_body
from csops.syncer.addons.plan import RUN_ANNOTATION, STAGE_ANNOTATION
from csops.syncer.addons.waits import WAIT_ANNOTATION
from csops.syncer.kube import Kube
from csops.syncer.objects import Resource


class ClusterAddons:
    """Reads and writes the controller's side of each Cluster's ClusterAddon."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube

    def get(self, cluster: ClusterView) -> dict[str, Any] | None:
        """The live ClusterAddon of ``cluster``, or ``None``."""
        return self.kube.get_or_none(
            self.kube.resource(API_VERSION, KIND), cluster.namespace, cluster.addon_name
        )

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
        return self.kube.apply(self._resource(), body)

    def _resource(self) -> Resource:
        return self.kube.resource(API_VERSION, KIND)
