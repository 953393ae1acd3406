"""ClusterAddon ``status`` the way CSO writes it, plus csops's own conditions.

``stages[]`` (name, action, phase), ``resources[]`` (synced / not-synced with the error),
``ready`` and ``conditions``: ``ClusterReady``, ``ClusterStackReleaseAvailable``,
``HelmChartFound``, ``HelmChartTemplated``, ``HelmChartApplied``, ``HelmChartDeleted``,
``EvaluatedCEL``, ``HookServerReady`` (when hooks are served), ``UpgradeTimedOut`` (only while
an upgrade went ahead without its addons) and a summary ``Ready``. Written only when it differs.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from csops.syncer.addons import clusteraddon
from csops.syncer.kube import Kube

ORDER = (
    "ClusterReady",
    "ClusterStackReleaseAvailable",
    "HelmChartFound",
    "HelmChartTemplated",
    "HelmChartApplied",
    "HelmChartDeleted",
    "EvaluatedCEL",
    "HookServerReady",
    "UpgradeTimedOut",
)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Cond:
    status: bool
    reason: str = ""
    message: str = ""
    severity: str = "Error"


@dataclass
class AddonStatus:
    ready: bool = False
    stages: list[dict[str, Any]] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)
    conditions: dict[str, Cond] = field(default_factory=dict)

    def set(self, ctype: str, ok: bool, reason: str = "", message: str = "") -> None:
        self.conditions[ctype] = Cond(ok, reason, message)

    def warn(self, ctype: str, reason: str, message: str) -> None:
        """A condition that is True when something is wrong (e.g. ``UpgradeTimedOut``)."""
        self.conditions[ctype] = Cond(True, reason, message, "Warning")

    def summary(self) -> Cond:
        failing = [c for t, c in self.conditions.items() if not c.status and t != "UpgradeTimedOut"]
        first = min(
            (t for t, c in self.conditions.items() if c in failing), key=ORDER.index, default=None
        )
        timed_out = self.conditions.get("UpgradeTimedOut")
        if timed_out is not None:
            cause = f"; {self.conditions[first].message}" if first else ""
            return Cond(False, timed_out.reason, timed_out.message + cause)
        if first is not None:
            cond = self.conditions[first]
            return Cond(False, cond.reason, cond.message)
        if not self.ready:
            return Cond(False, "AddonsNotApplied", "addons are being applied")
        return Cond(True)

    def body(self, old: dict[str, Any] | None) -> dict[str, Any]:
        before = {c.get("type"): c for c in (old or {}).get("conditions") or []}
        conds = []
        items = [(t, self.conditions[t]) for t in ORDER if t in self.conditions]
        items.append(("Ready", self.summary()))
        for ctype, cond in items:
            entry: dict[str, Any] = {"type": ctype, "status": "True" if cond.status else "False"}
            if cond.reason:
                entry["reason"] = cond.reason
            if cond.message:
                entry["message"] = cond.message[:1000]
            if cond.reason and (not cond.status or cond.severity == "Warning"):
                entry["severity"] = cond.severity
            prev = before.get(ctype)
            if prev and prev.get("status") == entry["status"] and prev.get("lastTransitionTime"):
                entry["lastTransitionTime"] = prev["lastTransitionTime"]
            else:
                entry["lastTransitionTime"] = _now()
            conds.append(entry)
        return {
            "ready": self.ready,
            "stages": self.stages,
            "resources": sorted(
                self.resources,
                key=lambda r: (r["group"], r["kind"], r["namespace"], r["name"]),
            ),
            "conditions": conds,
        }


def _comparable(status: dict[str, Any]) -> dict[str, Any]:
    conds = [
        {k: v for k, v in c.items() if k != "lastTransitionTime"}
        for c in status.get("conditions") or []
    ]
    return {
        "ready": bool(status.get("ready")),
        "stages": status.get("stages") or [],
        "resources": status.get("resources") or [],
        "conditions": conds,
    }


def write(kube: Kube, addon: dict[str, Any], status: AddonStatus) -> dict[str, Any]:
    """Apply ``status`` to the ClusterAddon when it differs from the live one."""
    old = addon.get("status") or {}
    new = status.body(old)
    if _comparable(new) == _comparable(old):
        return addon
    meta = addon["metadata"]
    body = {
        "apiVersion": clusteraddon.API_VERSION,
        "kind": clusteraddon.KIND,
        "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
        "status": new,
    }
    return kube.apply_status(clusteraddon.resource(kube), body)
