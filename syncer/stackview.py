"""What ``csops status`` shows of a ClusterStack, read from its live object (pure).

One :class:`StackView` per ClusterStack: whether csops manages it from git, its ``Ready``
condition, usable versions and latest release, the revision and time of the last pass that
changed it, releases kept while Clusters use them, and drift put back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from csops.syncer.applyset import PART_OF_LABEL
from csops.syncer.clock import parse_timestamp
from csops.syncer.stackstatus import MANAGED_CONDITION


@dataclass(frozen=True)
class StackView:
    namespace: str
    name: str
    managed: bool
    ready: str
    """``True``, ``False`` or ``Unknown`` (no status yet)."""
    reason: str = ""
    message: str = ""
    usable_versions: str = ""
    latest_release: str = ""
    revision: str = ""
    last_sync: str = ""
    kept_in_use: list[dict[str, Any]] = field(default_factory=list)
    drift: dict[str, Any] = field(default_factory=dict)
    releases: list[dict[str, Any]] = field(default_factory=list)
    resource_version: str = ""

    @classmethod
    def of(cls, stack: dict[str, Any]) -> StackView:
        meta = stack.get("metadata") or {}
        status = stack.get("status") or {}
        conditions = {c.get("type"): c for c in status.get("conditions") or []}
        ready = conditions.get("Ready") or {}
        managed_condition = conditions.get(MANAGED_CONDITION)
        labelled = PART_OF_LABEL in (meta.get("labels") or {})
        managed = labelled and not (
            managed_condition and managed_condition.get("status") == "False"
        )
        message = str(ready.get("message", ""))
        if managed_condition and managed_condition.get("status") == "False":
            message = str(managed_condition.get("message", message))
        return cls(
            namespace=str(meta.get("namespace", "")),
            name=str(meta.get("name", "")),
            managed=managed,
            ready=str(ready.get("status", "Unknown")),
            reason=str(ready.get("reason", "")),
            message=message,
            usable_versions=str(status.get("usableVersions", "")),
            latest_release=str(status.get("latestRelease", "")),
            revision=str(status.get("revision", "")),
            last_sync=str(status.get("lastSyncTime", "")),
            kept_in_use=list(status.get("keptInUse") or []),
            drift=dict(status.get("drift") or {}),
            releases=list(status.get("summary") or []),
            resource_version=str(meta.get("resourceVersion", "")),
        )

    def to_dict(self) -> dict[str, Any]:
        """The view as ``-o json|yaml`` prints it (camelCase, as the API spells it)."""
        return {
            "namespace": self.namespace,
            "name": self.name,
            "managedFromGit": self.managed,
            "ready": self.ready,
            "reason": self.reason,
            "message": self.message,
            "usableVersions": self.usable_versions,
            "latestRelease": self.latest_release,
            "revision": self.revision,
            "lastSyncTime": self.last_sync,
            "keptInUse": self.kept_in_use,
            "drift": self.drift,
            "releases": self.releases,
        }

    def row(self, now: float) -> list[str]:
        """The table row: NAMESPACE, CLUSTERSTACK, READY, USABLE, LATEST, LAST SYNC, DRIFT."""
        corrections = int(self.drift.get("corrections") or 0)
        return [
            self.namespace,
            self.name + ("" if self.managed else " (not in git)"),
            self.ready,
            self.usable_versions or "-",
            self.latest_release or "-",
            age(self.last_sync, now) if self.last_sync else "-",
            str(corrections),
        ]

    def details(self, now: float) -> list[str]:
        """Lines below the row: why it is not ready, what is kept, the last drift."""
        lines = []
        if self.ready != "True" and self.message:
            lines.append(f"{self.reason or 'message'}: {self.message}")
        for kept in self.kept_in_use:
            clusters = ", ".join(kept.get("clusters") or [])
            lines.append(f"kept: {kept.get('release')} (in use by {clusters})")
        if self.drift.get("lastObjects"):
            when = age(str(self.drift.get("lastTime", "")), now)
            objects = ", ".join(self.drift["lastObjects"])
            lines.append(f"drift: put back {when} ago: {objects}")
        return lines


HEADERS = ["NAMESPACE", "CLUSTERSTACK", "READY", "USABLE", "LATEST", "LAST SYNC", "DRIFT"]


def age(when: str, now: float) -> str:
    """kubectl's age of a timestamp: ``42s``, ``5m``, ``3h``, ``2d`` (``-`` when unknown)."""
    if not when:
        return "-"
    try:
        seconds = max(0, int(now - parse_timestamp(when)))
    except (TypeError, ValueError):
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
