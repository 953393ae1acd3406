"""ClusterAddon ``status`` the way CSO writes it, plus csops's own conditions (pure).

``stages[]`` (name, action, phase), ``resources[]`` (synced / not-synced with the error),
``ready`` and ``conditions``: ``ClusterReady``, ``ClusterStackReleaseAvailable``,
``HelmChartFound``, ``HelmChartTemplated``, ``HelmChartApplied``, ``HelmChartDeleted``,
``EvaluatedCEL``, ``HookServerReady`` (when hooks are served), ``UpgradeTimedOut`` (only while
an upgrade went ahead without its addons) and a summary ``Ready``. The
:class:`~csops.syncer.statuswriter.StatusWriter` writes it when it differs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from csops.syncer.addons import clusteraddon
from csops.syncer.addons.errors import (
    AddonError,
    ChartError,
    ReleaseMissingError,
    WorkloadUnreachableError,
)
from csops.syncer.addons.plan import StageEntry
from csops.syncer.conditions import Condition, ResourceEntry
from csops.syncer.objects import Reference

if TYPE_CHECKING:
    from csops.syncer.addons.stages import Progress

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
UPGRADE_TIMED_OUT = "UpgradeTimedOut"


@dataclass
class AddonStatus:
    ready: bool = False
    stages: list[StageEntry] = field(default_factory=list)
    resources: list[ResourceEntry] = field(default_factory=list)
    conditions: dict[str, Condition] = field(default_factory=dict)

    def set(self, ctype: str, ok: bool, reason: str = "", message: str = "") -> None:
        self.conditions[ctype] = Condition(ctype, ok, reason, message)

    def warn(self, ctype: str, reason: str, message: str) -> None:
        """A condition that is True when something is wrong (e.g. ``UpgradeTimedOut``)."""
        self.conditions[ctype] = Condition.warning(ctype, reason, message)

    def failed(self, exc: AddonError) -> None:
        """The condition an addon error points at (its reason), and not ready."""
        if isinstance(exc, WorkloadUnreachableError):
            self.set("ClusterReady", False, exc.reason, str(exc))
        elif isinstance(exc, ReleaseMissingError):
            self.set("ClusterStackReleaseAvailable", False, exc.reason, str(exc))
        elif isinstance(exc, ChartError):
            if exc.reason == "HelmChartMissing":
                self.set("HelmChartFound", False, exc.reason, str(exc))
            else:
                self.set("HelmChartTemplated", False, exc.reason, str(exc))
        else:
            self.set("HelmChartApplied", False, exc.reason, str(exc))
        self.ready = False

    def report(self, progress: Progress) -> None:
        """The conditions a run of stages left: charts found, CEL evaluated, objects applied."""
        if progress.missing_charts:
            self.set(
                "HelmChartFound",
                False,
                "HelmChartMissing",
                f"stages name charts the release lacks: {', '.join(progress.missing_charts)}",
            )
        else:
            self.set("HelmChartFound", True)
        self.set("HelmChartTemplated", True)
        if progress.cel_error:
            self.set("EvaluatedCEL", False, progress.cel_reason, progress.cel_error)
        elif progress.waiting:
            self.set("EvaluatedCEL", False, "WaitingForCondition", progress.waiting)
        else:
            self.set("EvaluatedCEL", True)
        if progress.failed:
            self.set("HelmChartApplied", False, "FailedToApplyObjects", "; ".join(progress.failed))
        elif not progress.done:
            self.set(
                "HelmChartApplied",
                False,
                "StagesInProgress",
                progress.waiting or "stages in progress",
            )

    def summary(self) -> Condition:
        failing = [t for t, c in self.conditions.items() if not c.status and t != UPGRADE_TIMED_OUT]
        first = min(failing, key=ORDER.index, default=None)
        timed_out = self.conditions.get(UPGRADE_TIMED_OUT)
        if timed_out is not None:
            cause = f"; {self.conditions[first].message}" if first else ""
            return Condition("Ready", False, timed_out.reason, timed_out.message + cause)
        if first is not None:
            cond = self.conditions[first]
            return Condition("Ready", False, cond.reason, cond.message)
        if not self.ready:
            return Condition("Ready", False, "AddonsNotApplied", "addons are being applied")
        return Condition("Ready", True)

    def body(self) -> dict[str, Any]:
        """The status as the API stores it (the writer adds transition times)."""
        conds = [self.conditions[t] for t in ORDER if t in self.conditions]
        conds.append(self.summary())
        return {
            "ready": self.ready,
            "stages": self.stages,
            "resources": sorted(
                self.resources,
                key=lambda r: (r["group"], r["kind"], r["namespace"], r["name"]),
            ),
            "conditions": [c.to_api() for c in conds],
        }


def target(addon: dict[str, Any]) -> Reference:
    """Where a ClusterAddon's status goes."""
    meta = addon["metadata"]
    return Reference(clusteraddon.API_VERSION, clusteraddon.KIND, meta["namespace"], meta["name"])
