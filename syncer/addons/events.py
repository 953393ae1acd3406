"""Events on a ClusterAddon (``kubectl describe clusteraddon``): Applied, UpgradeStarted,
UpgradeDone, Failed. Best effort: an Event that cannot be written is logged, never fatal."""

from __future__ import annotations

import datetime
import socket
from typing import Any

from csops.syncer import logs
from csops.syncer.errors import ApiError
from csops.syncer.kube import Kube

COMPONENT = "csops-addons"
APPLIED, UPGRADE_STARTED, UPGRADE_DONE, FAILED = (
    "Applied",
    "UpgradeStarted",
    "UpgradeDone",
    "Failed",
)
NORMAL, WARNING = "Normal", "Warning"


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def body(addon: dict[str, Any], reason: str, message: str, kind: str = NORMAL) -> dict[str, Any]:
    meta = addon.get("metadata") or {}
    now = _now()
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{meta.get('name')}.", "namespace": meta.get("namespace")},
        "involvedObject": {
            "apiVersion": addon.get("apiVersion"),
            "kind": addon.get("kind"),
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        },
        "reason": reason,
        "message": message[:1024],
        "type": kind,
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": socket.gethostname(),
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }


def emit(kube: Kube, addon: dict[str, Any], reason: str, message: str, kind: str = NORMAL) -> None:
    namespace = str((addon.get("metadata") or {}).get("namespace") or "")
    try:
        kube.create_event(namespace, body(addon, reason, message, kind))
    except ApiError as exc:
        logs.get().warning("cannot write Event", extra={"reason": reason, "error": str(exc)})
