"""Status conditions and per-resource status entries, as CSO writes them (pure, no I/O).

Shared by the ClusterStack / ClusterStackRelease status of the management sync and the
ClusterAddon status of the addon controller: the same condition shape (severity on failures
and warnings, messages cut at 1000 characters), the same ``lastTransitionTime`` rule (kept
while a condition's status does not change) and the same ``resources[]`` entries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypedDict

from csops.syncer.objects import ObjectId

MESSAGE_LIMIT = 1000
ERROR_LIMIT = 500


class Severity(StrEnum):
    """How bad a condition with a reason is (CAPI's condition severities)."""

    ERROR = "Error"
    WARNING = "Warning"


class Sync(StrEnum):
    """A resource entry's state."""

    SYNCED = "synced"
    NOT_SYNCED = "not-synced"


class ApiCondition(TypedDict, total=False):
    """A condition as the API stores it."""

    type: str
    status: str
    reason: str
    message: str
    severity: str
    lastTransitionTime: str


class ResourceEntry(TypedDict, total=False):
    """One ``status.resources[]`` entry: an object, and whether it is synced."""

    group: str
    version: str
    kind: str
    namespace: str
    name: str
    status: str
    error: str


@dataclass(frozen=True)
class Condition:
    """One condition; ``status`` True is good unless the severity says it is a warning."""

    type: str
    status: bool
    reason: str = ""
    message: str = ""
    severity: Severity = Severity.ERROR

    @classmethod
    def of(cls, ctype: str, ok: bool, reason: str = "", message: str = "") -> Condition:
        """A condition that is True, or False with ``reason`` and ``message``."""
        return cls(ctype, True) if ok else cls(ctype, False, reason, message)

    @classmethod
    def warning(cls, ctype: str, reason: str, message: str) -> Condition:
        """A condition that is True when something is wrong (e.g. ``UpgradeTimedOut``)."""
        return cls(ctype, True, reason, message, Severity.WARNING)

    def to_api(self) -> ApiCondition:
        """The condition as the API stores it (without ``lastTransitionTime``)."""
        entry: ApiCondition = {"type": self.type, "status": "True" if self.status else "False"}
        if self.reason:
            entry["reason"] = self.reason
        if self.message:
            entry["message"] = self.message[:MESSAGE_LIMIT]
        if self.reason and (not self.status or self.severity == Severity.WARNING):
            entry["severity"] = str(self.severity)
        return entry


def with_transition_times(
    new: Iterable[Mapping[str, Any]], old: Iterable[Mapping[str, Any]] | None, now: str
) -> list[dict[str, Any]]:
    """``new`` with ``lastTransitionTime``: kept from ``old`` where the status did not change."""
    before = {c.get("type"): c for c in old or []}
    stamped = []
    for cond in new:
        prev = before.get(cond["type"])
        if prev and prev.get("status") == cond["status"] and prev.get("lastTransitionTime"):
            stamped.append({**cond, "lastTransitionTime": prev["lastTransitionTime"]})
        else:
            stamped.append({**cond, "lastTransitionTime": now})
    return stamped


def without_times(status: dict[str, Any]) -> dict[str, Any]:
    """``status`` with its conditions' ``lastTransitionTime`` left out (for comparing)."""
    conds = [
        {k: v for k, v in c.items() if k != "lastTransitionTime"}
        for c in status.get("conditions") or []
    ]
    return {**status, "conditions": conds}


def resource_entry(oid: ObjectId, version: str | None, error: str = "") -> ResourceEntry:
    """One ``status.resources[]`` entry: the object, synced or not-synced with the error."""
    entry: ResourceEntry = {"group": oid.group}
    if version is not None:
        entry["version"] = version
    entry["kind"] = oid.kind
    entry["namespace"] = oid.namespace
    entry["name"] = oid.name
    entry["status"] = str(Sync.NOT_SYNCED if error else Sync.SYNCED)
    if error:
        entry["error"] = error[:ERROR_LIMIT]
    return entry


def entry_id(entry: Mapping[str, Any]) -> ObjectId:
    """The object a ``status.resources[]`` entry names (the inverse of :func:`resource_entry`)."""
    return ObjectId(
        str(entry.get("group", "")),
        str(entry.get("kind", "")),
        str(entry.get("namespace", "")),
        str(entry.get("name", "")),
    )
