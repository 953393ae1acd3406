"""Pure parts: planning, the upgrade gate, CEL conditions, the controller's scheduling."""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path
from typing import cast

import pytest

from csops.syncer.addons import gate
from csops.syncer.addons.cel import evaluate
from csops.syncer.addons.controller import AddonController, _Schedule
from csops.syncer.addons.options import AddonOptions, Result
from csops.syncer.addons.plan import (
    INSTALL,
    STEADY,
    SWITCH,
    UPGRADE,
    AddonState,
    decide,
    same_version,
)
from csops.syncer.addons.releases import ReleaseCatalog
from csops.syncer.kube import Kube
from tests.fakes import FakeClock

pytestmark = pytest.mark.unit

RELEASES = Path(__file__).resolve().parents[2] / "stacks/rendered/releases"


def test_plan_install_steady_and_dot_dash_versions() -> None:
    catalog = ReleaseCatalog(RELEASES)
    birch = catalog.for_class("openstack-birch-1-31-v1")
    plan = decide("openstack-birch-1-31-v1", AddonState(), birch, None)
    assert plan.action == INSTALL and plan.hook == "AfterControlPlaneInitialized"
    assert [s.name for s in plan.stages] == ["cni", "ccm", "metrics-server"]
    assert plan.phases == ["Pending"] * 3
    state = AddonState(cluster_stack="openstack-birch-1-31-v1", version="v1")
    assert decide("openstack-birch-1-31-v1", state, birch, None).action == STEADY
    alder = catalog.for_class("docker-alder-1-29-v1")
    assert [s.name for s in alder.stages("BeforeClusterUpgrade")] == ["cluster-addon"]
    assert same_version("v0-sha-abc1234", __import__("renderer").Version.parse("v0-sha.abc1234"))
    assert catalog.release_name("docker-ferrol-1-27-v0-sha.abc1234") == (
        "docker-ferrol-1-27-v0-sha-abc1234"
    )


def test_plan_class_change(tmp_path: Path) -> None:
    catalog = ReleaseCatalog(RELEASES)
    old = catalog.for_class("docker-alder-1-29-v1")
    same_addons = decide(
        "docker-alder-1-30-v1",
        AddonState(cluster_stack=old.name, version="v1"),
        catalog.for_class("docker-alder-1-30-v1"),
        old,
    )
    assert same_addons.action == SWITCH  # old convention: only the addon version counts
    newer = decide(
        "docker-alder-1-30-v1",
        AddonState(cluster_stack=old.name, version="v0"),
        catalog.for_class("docker-alder-1-30-v1"),
        old,
    )
    assert newer.action == UPGRADE and newer.cleanup
    resumed = AddonState(
        cluster_stack=old.name,
        version="v0",
        run=newer.run,
        stages=({"name": "cluster-addon", "action": "apply", "phase": "done"},),
    )
    assert decide(
        "docker-alder-1-30-v1", resumed, catalog.for_class("docker-alder-1-30-v1"), old
    ).phases == ["done"]


def test_gate_state_is_keyed_by_target_and_bounded() -> None:
    state = gate.begin(None, "c-v2", "v1.31.7", 100.0)
    assert gate.begin(state, "c-v2", "v1.31.7", 500.0) is state
    assert gate.begin(state, "c-v3", "v1.31.7", 500.0).since == 500.0
    waiting = gate.decide(state, None, 150.0, 100.0)
    assert not waiting.proceed and waiting.retry_after == gate.RETRY_AFTER
    late = gate.decide(state, None, 200.0, 100.0)
    assert late.proceed and late.timed_out
    addon = {"spec": {"clusterStack": "c-v2", "hook": ""}, "status": {"ready": True}}
    assert gate.decide(state, addon, 150.0, 100.0).proceed
    encoded = {"metadata": {"annotations": {gate.UPGRADE_ANNOTATION: state.encode()}}}
    assert gate.state_of(encoded) == state
    assert gate.state_of({"metadata": {"annotations": {gate.UPGRADE_ANNOTATION: "{"}}}) is None


def test_cel_verdicts() -> None:
    ok = {"a": {"spec": {"replicas": 2}, "status": {"ready": 2}}}
    assert evaluate("a.status.ready == a.spec.replicas", ok).met
    assert not evaluate("a.status.ready == 3", ok).error
    missing = evaluate("a.status.nope == 1", ok)
    assert not missing.met and missing.error and "nope" in missing.message
    assert evaluate("a.spec.replicas", ok).error
    assert evaluate("a.spec.replicas ==", ok).error


def test_a_wake_while_a_cluster_reconciles_is_not_lost() -> None:
    """A hook call or Cluster event during a reconcile of that cluster (which may have read the
    state from before it) reconciles it again at once, not after the run's own requeue."""
    clock = FakeClock(100.0)
    options = AddonOptions(interval=60.0, backoff_base=30.0, backoff_cap=60.0)
    controller = AddonController(cast(Kube, None), None, options, clock=clock)
    for key in ("ns/woken", "ns/quiet", "ns/failing"):
        controller._schedule[key] = _Schedule(running=True)
    controller.wake("ns/woken")
    controller.wake("ns/failing")
    ok: Future[Result] = Future()
    ok.set_result(Result("ns/woken", True, options.interval))
    controller._done_callback("ns/woken")(ok)
    controller._done_callback("ns/quiet")(ok)
    failed: Future[Result] = Future()
    failed.set_result(Result("ns/failing", False, 0.0, "unreachable", error=True))
    controller._done_callback("ns/failing")(failed)
    schedule = controller._schedule
    assert schedule["ns/woken"].due <= clock.monotonic()
    assert schedule["ns/failing"].due <= clock.monotonic()
    assert schedule["ns/quiet"].due == clock.monotonic() + options.interval
    assert not any(s.woken or s.running for s in schedule.values())
    # once ran, the next run keeps its requeue again
    controller._schedule["ns/woken"].running = True
    controller._done_callback("ns/woken")(ok)
    assert schedule["ns/woken"].due == clock.monotonic() + options.interval
