"""Errors of the addon controller: each carries the condition reason a ClusterAddon shows."""

from __future__ import annotations

from csops.syncer.errors import SyncError


class AddonError(SyncError):
    """Something keeps one cluster's addons from converging; ``reason`` is a condition reason."""

    reason = "AddonError"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class WorkloadUnreachableError(AddonError):
    """The workload cluster's kubeconfig is missing or its API server does not answer."""

    reason = "WorkloadClusterUnreachable"


class ReleaseMissingError(AddonError):
    """The release bundle of the Cluster's class (or the previous one) cannot be read."""

    reason = "ClusterStackReleaseMissing"


class ChartError(AddonError):
    """An addon chart is missing or does not template for this cluster."""

    reason = "HelmChartTemplateFailed"
