"""What a cluster's addons need next — pure: from the Cluster, its ClusterAddon and releases.

- **install**: nothing applied yet → the ``AfterControlPlaneInitialized`` stages (old
  convention: the single chart);
- **upgrade**: the class changed and the addons must follow → the ``BeforeClusterUpgrade``
  stages, then cleanup of objects the old release had and the new one dropped. New
  convention: when the Kubernetes version or the addon version changed; old convention: when
  the addon version changed;
- **switch**: the class changed but nothing addon-relevant did → only record the new class;
- **steady**: the recorded class is the Cluster's class → correct drift of the applied objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypedDict

from csops.renderer import Stage, Version, VersionError
from csops.syncer.addons.releases import (
    AFTER_CONTROL_PLANE_INITIALIZED,
    BEFORE_CLUSTER_UPGRADE,
    ReleaseBundle,
)
from csops.syncer.conditions import ResourceEntry


class StageEntry(TypedDict):
    """One ``status.stages[]`` entry: a stage of the current run and its phase."""

    name: str
    action: str
    phase: str


class Phase(StrEnum):
    """Where one stage of a run stands (CSO's stage phases)."""

    PENDING = "Pending"
    WAITING_PRE = "waitingForPreCondition"
    APPLYING = "applyingOrDeleting"
    WAITING_POST = "waitingForPostCondition"
    DONE = "done"

    @classmethod
    def parse(cls, value: object) -> Phase:
        """A recorded phase; anything unknown starts the stage over."""
        try:
            return cls(str(value))
        except ValueError:
            return cls.PENDING


class Action(StrEnum):
    """What a cluster's addons need next."""

    INSTALL = "install"
    UPGRADE = "upgrade"
    SWITCH = "switch"
    STEADY = "steady"


INSTALL, UPGRADE, SWITCH, STEADY = Action.INSTALL, Action.UPGRADE, Action.SWITCH, Action.STEADY
STAGE_ANNOTATION = "ClusterAddonStage"  # CSO: created | upgraded (first value sticks)
RUN_ANNOTATION = "addons.csops.dev/run"  # "<hook> <target class>": which run status.stages is
CREATED, UPGRADED = "created", "upgraded"


@dataclass(frozen=True)
class AddonState:
    """What the ClusterAddon records: the last fully applied class and addon version."""

    cluster_stack: str = ""
    version: str = ""
    hook: str = ""
    run: str = ""
    stage_annotation: str = ""
    stages: tuple[StageEntry, ...] = ()
    resources: tuple[ResourceEntry, ...] = ()

    @classmethod
    def of(cls, addon: dict[str, Any] | None) -> AddonState:
        if addon is None:
            return cls()
        spec = addon.get("spec") or {}
        status = addon.get("status") or {}
        annotations = (addon.get("metadata") or {}).get("annotations") or {}
        return cls(
            cluster_stack=str(spec.get("clusterStack") or ""),
            version=str(spec.get("version") or ""),
            hook=str(spec.get("hook") or ""),
            run=str(annotations.get(RUN_ANNOTATION) or ""),
            stage_annotation=str(annotations.get(STAGE_ANNOTATION) or ""),
            stages=tuple(status.get("stages") or ()),
            resources=tuple(status.get("resources") or ()),
        )

    @property
    def last_hook(self) -> str:
        """The hook whose stages produced what the cluster holds now."""
        return (
            BEFORE_CLUSTER_UPGRADE
            if self.stage_annotation == UPGRADED
            else (AFTER_CONTROL_PLANE_INITIALIZED)
        )


@dataclass(frozen=True)
class Plan:
    action: Action
    target_class: str
    reason: str
    hook: str = ""
    stages: tuple[Stage, ...] = ()
    cleanup: bool = False
    old_class: str = ""
    phases: list[Phase] = field(default_factory=list)  # resumed phase per stage

    @property
    def run(self) -> str:
        return f"{self.hook} {self.target_class}" if self.hook else ""


def same_version(recorded: str, version: Version) -> bool:
    """Addon versions compare as versions: dot and dash spellings are the same version."""
    for parse in (Version.parse, Version.parse_dash):
        try:
            if parse(recorded) == version:
                return True
        except VersionError:
            continue
    return False


def decide(
    class_name: str,
    state: AddonState,
    new: ReleaseBundle,
    old: ReleaseBundle | None,
) -> Plan:
    """The next action for one cluster (``old`` is the release of ``state.cluster_stack``)."""
    if not state.cluster_stack:
        plan = Plan(
            INSTALL,
            class_name,
            f"first install of the addons of {new.name}",
            hook=AFTER_CONTROL_PLANE_INITIALIZED,
            stages=new.stages(AFTER_CONTROL_PLANE_INITIALIZED),
        )
        return _resumed(plan, state)
    if state.cluster_stack == class_name:
        return Plan(STEADY, class_name, f"addons of {new.name} applied")
    addon_changed = not same_version(state.version, new.addon_version)
    kubernetes_changed = old is None or old.kubernetes != new.kubernetes
    if old is None:
        why = f"the previous release of class {state.cluster_stack} is not available"
    elif addon_changed:
        why = f"addon version {state.version} → {new.addon_version.dot}"
    else:
        why = f"Kubernetes {old.kubernetes} → {new.kubernetes}"
    if addon_changed or (new.new_convention and kubernetes_changed):
        plan = Plan(
            UPGRADE,
            class_name,
            f"upgrade {state.cluster_stack} → {class_name}: {why}",
            hook=BEFORE_CLUSTER_UPGRADE,
            stages=new.stages(BEFORE_CLUSTER_UPGRADE),
            cleanup=True,
            old_class=state.cluster_stack,
        )
        return _resumed(plan, state)
    return Plan(
        SWITCH,
        class_name,
        f"class {state.cluster_stack} → {class_name} with unchanged addons "
        f"({new.addon_version.dot}); nothing to apply",
        old_class=state.cluster_stack,
    )


def _resumed(plan: Plan, state: AddonState) -> Plan:
    """Keep recorded stage phases when the same run is still in progress, else start fresh."""
    phases = [Phase.PENDING] * len(plan.stages)
    if state.run == plan.run and len(state.stages) == len(plan.stages):
        for i, (recorded, stage) in enumerate(zip(state.stages, plan.stages, strict=True)):
            if recorded.get("name") == stage.name and recorded.get("action") == stage.action:
                phases[i] = Phase.parse(recorded.get("phase"))
    plan.phases.extend(phases)
    return plan
