"""Kubernetes Events (``kubectl describe`` shows them): their bodies, built purely.

The management sync records ``Synced``, ``DriftCorrected``, ``Pruned``, ``KeptInUse`` and
``SyncFailed`` on the ClusterStack they concern; the
addon controller records ``Applied``, ``UpgradeStarted``, ``UpgradeDone`` and ``Failed`` on a
ClusterAddon. :class:`~csops.syncer.statuswriter.StatusWriter` sends them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

MESSAGE_LIMIT = 1024


class EventType(StrEnum):
    """An Event's ``type``."""

    NORMAL = "Normal"
    WARNING = "Warning"


class Reason(StrEnum):
    """Every Event reason csops records."""

    SYNCED = "Synced"
    SYNC_FAILED = "SyncFailed"
    KEPT_IN_USE = "KeptInUse"
    DRIFT_CORRECTED = "DriftCorrected"
    PRUNED = "Pruned"
    APPLIED = "Applied"
    UPGRADE_STARTED = "UpgradeStarted"
    UPGRADE_DONE = "UpgradeDone"
    FAILED = "Failed"


def event_body(
    involved: dict[str, Any],
    reason: Reason,
    message: str,
    kind: EventType,
    *,
    component: str,
    instance: str,
    now: str,
) -> dict[str, Any]:
    """A ``v1`` Event about ``involved`` (its identity, uid and resourceVersion when known)."""
    meta = involved.get("metadata") or {}
    reference = {
        "apiVersion": involved.get("apiVersion"),
        "kind": involved.get("kind"),
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "uid": meta.get("uid"),
    }
    if meta.get("resourceVersion"):
        reference["resourceVersion"] = meta["resourceVersion"]
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{meta.get('name')}.", "namespace": meta.get("namespace")},
        "involvedObject": reference,
        "reason": str(reason),
        "message": message[:MESSAGE_LIMIT],
        "type": str(kind),
        "source": {"component": component},
        "reportingComponent": component,
        "reportingInstance": instance,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }
