"""The addon controller's decisions, without I/O: stage planning and resumption, the upgrade
gate, bounded stage waits, the ClusterAddon conditions and the records an apply leaves.

Release bundles are built in memory (no files are read); the clock is a number.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from csops.renderer import AddonConfig, Condition, Release, StackId, Stage, StageAction, Version
from csops.renderer.hashes import StackHashes
from csops.renderer.ledger import ReleaseVersions
from csops.syncer.addons import gate, waits
from csops.syncer.addons.errors import (
    AddonError,
    ChartError,
    ReleaseMissingError,
    WorkloadUnreachableError,
)
from csops.syncer.addons.plan import (
    INSTALL,
    RUN_ANNOTATION,
    STEADY,
    SWITCH,
    UPGRADE,
    AddonState,
    Phase,
    decide,
)
from csops.syncer.addons.releases import (
    AFTER_CONTROL_PLANE_INITIALIZED,
    BEFORE_CLUSTER_UPGRADE,
    ReleaseBundle,
)
from csops.syncer.addons.stages import Progress, records_of
from csops.syncer.addons.status import AddonStatus
from csops.syncer.changeset import Action, Change, ChangeSet
from csops.syncer.conditions import with_transition_times
from csops.syncer.health import IN_PROGRESS, Health
from csops.syncer.objects import ObjectId

pytestmark = pytest.mark.unit

STACK = StackId("openstack", "birch", 1, 31)
GATE = Condition(({"key": "ds", "kind": "DaemonSet", "name": "cni"},), "ds.status.numberReady > 0")


def bundle(
    version: str, kubernetes: str, addon: str, *, stages: bool = True, charts: tuple[str, ...] = ()
) -> ReleaseBundle:
    """A release bundle in memory: new convention (stages) or old (one chart)."""
    versions = ReleaseVersions(
        Version.parse(version), Version.parse(addon), Version.parse("v1"), kubernetes
    )
    release = Release(
        STACK.release_name(Version.parse(version)),
        STACK,
        versions,
        StackHashes("h"),
        Path("/nowhere"),
    )
    config = None
    if stages:
        config = AddonConfig(
            {
                AFTER_CONTROL_PLANE_INITIALIZED: (
                    Stage("cni", StageAction.APPLY, post=GATE),
                    Stage("ccm", StageAction.APPLY),
                ),
                BEFORE_CLUSTER_UPGRADE: (
                    Stage("old-cni", StageAction.DELETE),
                    Stage("cni", StageAction.APPLY),
                ),
            }
        )
    names = charts or (("cni", "ccm") if stages else ("cluster-addon",))
    return ReleaseBundle(release, config, {n: (Path(f"/nowhere/{n}"), None) for n in names})


V1 = bundle("v1", "v1.31.6", "v1")
V2_ADDONS = bundle("v2", "v1.31.6", "v2")
V2_KUBERNETES = bundle("v2", "v1.31.7", "v1")
CLASS_V1, CLASS_V2 = STACK.class_name(Version.parse("v1")), STACK.class_name(Version.parse("v2"))


# ------------------------------------------------------------------ planning


@pytest.mark.parametrize(
    ("state", "new", "old", "expected"),
    [
        (AddonState(), V1, None, (INSTALL, AFTER_CONTROL_PLANE_INITIALIZED, False)),
        (AddonState(CLASS_V2, "v2"), V2_ADDONS, V1, (STEADY, "", False)),
        (AddonState(CLASS_V1, "v1"), V2_ADDONS, V1, (UPGRADE, BEFORE_CLUSTER_UPGRADE, True)),
        (AddonState(CLASS_V1, "v1"), V2_KUBERNETES, V1, (UPGRADE, BEFORE_CLUSTER_UPGRADE, True)),
        (AddonState(CLASS_V1, "v1"), V2_KUBERNETES, None, (UPGRADE, BEFORE_CLUSTER_UPGRADE, True)),
    ],
    ids=["first-install", "steady", "addon-version", "kubernetes-new-convention", "old-missing"],
)
def test_plan_action(
    state: AddonState,
    new: ReleaseBundle,
    old: ReleaseBundle | None,
    expected: tuple[str, str, bool],
) -> None:
    target = new.release.stack.class_name(new.release.versions.cluster_stack)
    plan = decide(target, state, new, old)
    assert (plan.action, plan.hook, plan.cleanup) == expected
    assert plan.phases == [Phase.PENDING] * len(plan.stages)
    if plan.action == UPGRADE:
        assert plan.old_class == CLASS_V1 and CLASS_V1 in plan.reason


def test_kubernetes_change_of_an_old_convention_stack_only_switches() -> None:
    old = bundle("v1", "v1.31.6", "v1", stages=False)
    new = bundle("v2", "v1.31.7", "v1", stages=False)
    plan = decide(CLASS_V2, AddonState(CLASS_V1, "v1"), new, old)
    assert plan.action == SWITCH and plan.stages == () and "unchanged addons" in plan.reason


def test_recorded_phases_resume_the_same_run_only() -> None:
    fresh = decide(CLASS_V1, AddonState(), V1, None)
    recorded = (
        {"name": "cni", "action": "apply", "phase": "waitingForPostCondition"},
        {"name": "ccm", "action": "apply", "phase": "Pending"},
    )
    same = AddonState(run=fresh.run, stages=recorded)
    assert decide(CLASS_V1, same, V1, None).phases == [Phase.WAITING_POST, Phase.PENDING]
    other = AddonState(run="BeforeClusterUpgrade elsewhere", stages=recorded)
    assert decide(CLASS_V1, other, V1, None).phases == [Phase.PENDING, Phase.PENDING]
    garbage = AddonState(run=fresh.run, stages=({**recorded[0], "phase": "??"}, recorded[1]))
    assert decide(CLASS_V1, garbage, V1, None).phases == [Phase.PENDING, Phase.PENDING]


def test_addon_state_is_read_from_the_clusteraddon() -> None:
    addon = {
        "metadata": {"annotations": {RUN_ANNOTATION: "run", "ClusterAddonStage": "upgraded"}},
        "spec": {"clusterStack": CLASS_V1, "version": "v1", "hook": "BeforeClusterUpgrade"},
        "status": {"stages": [{"name": "cni"}], "resources": []},
    }
    state = AddonState.of(addon)
    assert (state.cluster_stack, state.version, state.run) == (CLASS_V1, "v1", "run")
    assert state.last_hook == BEFORE_CLUSTER_UPGRADE
    assert AddonState.of(None) == AddonState()
    assert AddonState().last_hook == AFTER_CONTROL_PLANE_INITIALIZED


def test_applied_charts_are_those_a_hook_leaves_applied() -> None:
    assert V1.applied_charts(BEFORE_CLUSTER_UPGRADE) == ["cni"]
    assert V1.applied_charts(AFTER_CONTROL_PLANE_INITIALIZED) == ["cni", "ccm"]
    single = bundle("v1", "v1.31.6", "v1", stages=False)
    assert [s.name for s in single.stages(BEFORE_CLUSTER_UPGRADE)] == ["cluster-addon"]


# ------------------------------------------------------------------ upgrade gate


def _addon(annotations: dict[str, str], **spec: Any) -> dict[str, Any]:
    return {"metadata": {"annotations": annotations}, "spec": spec, "status": {"ready": True}}


def test_gate_state_round_trip_and_garbage() -> None:
    state = gate.UpgradeState(CLASS_V2, "v1.31.7", 100.0)
    assert gate.state_of(_addon({gate.UPGRADE_ANNOTATION: state.encode()})) == state
    assert gate.state_of(_addon({gate.UPGRADE_ANNOTATION: "{not json"})) is None
    assert gate.state_of(_addon({})) is None
    assert gate.begin(state, CLASS_V2, "v1.31.7", 500.0) is state  # the same upgrade
    assert gate.begin(state, CLASS_V2, "v1.31.8", 500.0).since == 500.0  # a new one


@pytest.mark.parametrize(
    ("addon", "now", "proceed", "timed_out", "retry"),
    [
        (_addon({}, clusterStack=CLASS_V2), 110.0, True, False, 0),
        (_addon({}, clusterStack=CLASS_V2, hook="BeforeClusterUpgrade"), 110.0, False, False, 10),
        (_addon({}, clusterStack=CLASS_V1), 110.0, False, False, 10),
        (_addon({}, clusterStack=CLASS_V1), 400.0, True, True, 0),
        (None, 399.9, False, False, 10),
    ],
    ids=["applied", "hook-running", "not-yet", "timed-out", "no-clusteraddon"],
)
def test_gate_decision(
    addon: dict[str, Any] | None, now: float, proceed: bool, timed_out: bool, retry: int
) -> None:
    state = gate.UpgradeState(CLASS_V2, "v1.31.7", 100.0)
    decision = gate.decide(state, addon, now, timeout=300.0)
    assert (decision.proceed, decision.timed_out, decision.retry_after) == (
        proceed,
        timed_out,
        retry,
    )
    assert CLASS_V2 in decision.message


# ------------------------------------------------------------------ stage waits


def test_stage_wait_continues_fails_and_blocks_one_revision() -> None:
    wait = waits.track(
        None, run="r", stage=0, name="cni", phase=Phase.WAITING_POST, now=10.0, message="x"
    )
    same = waits.track(
        wait, run="r", stage=0, name="cni", phase=Phase.WAITING_POST, now=50.0, message="y"
    )
    assert same.since == 10.0 and same.message == "y"
    moved = waits.track(
        wait, run="r", stage=1, name="ccm", phase=Phase.WAITING_PRE, now=50.0, message=""
    )
    assert moved.since == 50.0 and moved.which == "Pre"
    assert not waits.expired(same, now=609.0, timeout=600.0)
    assert waits.expired(same, now=610.0, timeout=600.0)
    assert not waits.expired(same, now=1e9, timeout=0)  # 0: no limit
    failed = waits.fail(same, "rev-1")
    assert waits.blocked(failed, "r", "rev-1") and not waits.blocked(failed, "r", "rev-2")
    assert not waits.blocked(failed, "other run", "rev-1") and not waits.blocked(None, "r", "x")
    assert failed.reason == "PostConditionTimedOut" and "stage 1 'cni'" in failed.describe(600)
    annotated = {"metadata": {"annotations": {waits.WAIT_ANNOTATION: failed.encode()}}}
    assert waits.state_of(annotated) == failed
    assert waits.state_of({"metadata": {"annotations": {waits.WAIT_ANNOTATION: "[]"}}}) is None


# ------------------------------------------------------------------ conditions


def _conditions(status: AddonStatus) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status.body()["conditions"]}


def test_ready_summarises_the_first_failing_condition_in_order() -> None:
    status = AddonStatus()
    status.set("ClusterReady", True)
    status.set("HelmChartApplied", False, "FailedToApplyObjects", "boom")
    status.set("HelmChartFound", False, "HelmChartMissing", "no chart")
    ready = _conditions(status)["Ready"]
    assert (ready["status"], ready["reason"], ready["severity"]) == (
        "False",
        "HelmChartMissing",
        "Error",
    )
    assert [c["type"] for c in status.body()["conditions"]] == [
        "ClusterReady",
        "HelmChartFound",
        "HelmChartApplied",
        "Ready",
    ]


def test_ready_when_applied_and_nothing_fails() -> None:
    status = AddonStatus(ready=True)
    status.set("HelmChartApplied", True)
    assert _conditions(status)["Ready"] == {"type": "Ready", "status": "True"}
    assert _conditions(AddonStatus())["Ready"]["reason"] == "AddonsNotApplied"


def test_upgrade_timed_out_is_a_warning_that_names_the_cause() -> None:
    status = AddonStatus()
    status.set("EvaluatedCEL", False, "WaitingForCondition", "cni not ready")
    status.warn("UpgradeTimedOut", "UpgradeProceededWithoutAddons", "gave up after 900s")
    conds = _conditions(status)
    assert conds["UpgradeTimedOut"]["status"] == "True"
    assert conds["UpgradeTimedOut"]["severity"] == "Warning"
    assert conds["Ready"]["reason"] == "UpgradeProceededWithoutAddons"
    assert conds["Ready"]["message"] == "gave up after 900s; cni not ready"


@pytest.mark.parametrize(
    ("error", "condition"),
    [
        (WorkloadUnreachableError("down"), "ClusterReady"),
        (ReleaseMissingError("gone"), "ClusterStackReleaseAvailable"),
        (ChartError("no chart", reason="HelmChartMissing"), "HelmChartFound"),
        (ChartError("bad template"), "HelmChartTemplated"),
        (AddonError("other"), "HelmChartApplied"),
    ],
)
def test_an_addon_error_fails_the_condition_it_concerns(error: AddonError, condition: str) -> None:
    status = AddonStatus(ready=True)
    status.failed(error)
    failing = {t: c for t, c in status.conditions.items() if not c.status}
    assert list(failing) == [condition] and failing[condition].reason == error.reason
    assert not status.ready


@pytest.mark.parametrize(
    ("progress", "expected"),
    [
        (
            Progress([Phase.DONE, Phase.DONE]),
            {"HelmChartFound": "True", "EvaluatedCEL": "True", "HelmChartApplied": None},
        ),
        (
            Progress([Phase.WAITING_POST, Phase.PENDING], waiting="post-condition: x"),
            {"EvaluatedCEL": "WaitingForCondition", "HelmChartApplied": "StagesInProgress"},
        ),
        (
            Progress(
                [Phase.WAITING_PRE],
                waiting="pre-condition: bad",
                cel_error="bad",
                cel_reason="FailedToEvaluatePreCondition",
            ),
            {"EvaluatedCEL": "FailedToEvaluatePreCondition"},
        ),
        (
            Progress([Phase.APPLYING], failed=["apply x: no"]),
            {"HelmChartApplied": "FailedToApplyObjects"},
        ),
        (
            Progress([Phase.DONE], missing_charts=["ccm"]),
            {"HelmChartFound": "HelmChartMissing"},
        ),
    ],
    ids=["done", "waiting", "cel-error", "apply-failed", "chart-missing"],
)
def test_a_run_of_stages_reports_its_conditions(
    progress: Progress, expected: dict[str, str | None]
) -> None:
    status = AddonStatus()
    status.report(progress)
    for ctype, want in expected.items():
        cond = status.conditions.get(ctype)
        if want is None:
            assert cond is None
        elif want == "True":
            assert cond is not None and cond.status
        else:
            assert cond is not None and not cond.status and cond.reason == want


def test_transition_times_are_kept_while_the_status_holds() -> None:
    old = [
        {"type": "Ready", "status": "True", "lastTransitionTime": "T0"},
        {"type": "HelmChartApplied", "status": "True", "lastTransitionTime": "T0"},
    ]
    new = [{"type": "Ready", "status": "True"}, {"type": "HelmChartApplied", "status": "False"}]
    stamped = with_transition_times(new, old, "T1")
    assert [c["lastTransitionTime"] for c in stamped] == ["T0", "T1"]
    assert "lastTransitionTime" not in new[0]  # the input is left alone


# ------------------------------------------------------------------ records


def test_records_say_synced_failed_or_crd_not_established() -> None:
    cm = ObjectId("", "ConfigMap", "kube-system", "a")
    bad = ObjectId("apps", "Deployment", "kube-system", "b")
    crd = ObjectId("apiextensions.k8s.io", "CustomResourceDefinition", "", "things.example.com")
    changes = ChangeSet(
        [
            Change(cm, Action.CREATED, {}, None, "v1"),
            Change(bad, Action.FAILED, None, "forbidden", "apps/v1"),
            Change(crd, Action.UNCHANGED, {}, None, "apiextensions.k8s.io/v1"),
        ],
        unhealthy={crd: Health(IN_PROGRESS, "installing")},
    )
    records = records_of(changes)
    assert records[cm] == {
        "group": "",
        "version": "v1",
        "kind": "ConfigMap",
        "namespace": "kube-system",
        "name": "a",
        "status": "synced",
    }
    assert records[bad]["status"] == "not-synced" and records[bad]["error"] == "forbidden"
    assert "not Established" in records[crd]["error"]
