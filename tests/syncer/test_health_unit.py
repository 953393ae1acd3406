"""kstatus port: tables of live objects and the status they must compute to."""

from __future__ import annotations

from typing import Any

import pytest

from csops.syncer.health import (
    CURRENT,
    FAILED,
    IN_PROGRESS,
    NOT_FOUND,
    RECHECK,
    TERMINATING,
    Health,
    compute,
    wait_for,
)
from tests.fakes import FakeClock

pytestmark = pytest.mark.unit


def cond(ctype: str, status: str, reason: str = "", message: str = "") -> dict[str, str]:
    return {"type": ctype, "status": status, "reason": reason, "message": message}


def obj(
    api_version: str,
    kind: str,
    *,
    spec: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
    conditions: list[dict[str, str]] | None = None,
    generation: int | None = 1,
    **meta: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}}
    if generation is not None:
        body["metadata"]["generation"] = generation
    body["metadata"].update(meta)
    if spec is not None:
        body["spec"] = spec
    if status is not None or conditions is not None:
        body["status"] = dict(status or {})
        if conditions is not None:
            body["status"]["conditions"] = conditions
    return body


CR = "example.com/v1"

GENERIC = [
    ("not found", None, NOT_FOUND),
    ("being deleted", obj(CR, "Thing", deletionTimestamp="2026-01-01T00:00:00Z"), TERMINATING),
    (
        "deleted wins over ready",
        obj(CR, "Thing", deletionTimestamp="t", conditions=[cond("Ready", "True")]),
        TERMINATING,
    ),
    ("unknown kind, no status", obj(CR, "Thing"), CURRENT),
    ("unknown kind, empty status", obj(CR, "Thing", status={}), CURRENT),
    (
        "generation not observed",
        obj(CR, "Thing", generation=2, status={"observedGeneration": 1}),
        IN_PROGRESS,
    ),
    (
        "stale generation beats Ready=True",
        obj(
            CR,
            "Thing",
            generation=3,
            status={"observedGeneration": 2},
            conditions=[cond("Ready", "True")],
        ),
        IN_PROGRESS,
    ),
    (
        "generation observed",
        obj(CR, "Thing", generation=2, status={"observedGeneration": 2}),
        CURRENT,
    ),
    ("no observedGeneration: lenient", obj(CR, "Thing", generation=7, status={}), CURRENT),
    ("Reconciling=True", obj(CR, "Thing", conditions=[cond("Reconciling", "True")]), IN_PROGRESS),
    ("Reconciling=False", obj(CR, "Thing", conditions=[cond("Reconciling", "False")]), CURRENT),
    ("Stalled=True", obj(CR, "Thing", conditions=[cond("Stalled", "True")]), FAILED),
    (
        "Reconciling wins over Stalled",
        obj(CR, "Thing", conditions=[cond("Stalled", "True"), cond("Reconciling", "True")]),
        IN_PROGRESS,
    ),
    (
        "Stalled beats Ready",
        obj(CR, "Thing", conditions=[cond("Ready", "True"), cond("Stalled", "True")]),
        FAILED,
    ),
    ("Ready=True", obj(CR, "Thing", conditions=[cond("Ready", "True")]), CURRENT),
    (
        "Ready=False is never Failed",
        obj(CR, "Thing", conditions=[cond("Ready", "False")]),
        IN_PROGRESS,
    ),
    ("Ready=Unknown", obj(CR, "Thing", conditions=[cond("Ready", "Unknown")]), IN_PROGRESS),
    ("other conditions only", obj(CR, "Thing", conditions=[cond("Synced", "False")]), CURRENT),
    # kind rules are per group: a CR named like a core kind gets the generic rules
    (
        "CR called Service, not ready",
        obj("serving.knative.dev/v1", "Service", conditions=[cond("Ready", "False")]),
        IN_PROGRESS,
    ),
    ("CR called Job, no startTime", obj("example.com/v1", "Job", status={}), CURRENT),
    ("CR called Deployment", obj(CR, "Deployment", spec={"replicas": 3}, status={}), CURRENT),
]

CRD = "apiextensions.k8s.io/v1"
CRDS = [
    (
        "CRD established",
        obj(
            CRD,
            "CustomResourceDefinition",
            conditions=[cond("NamesAccepted", "True"), cond("Established", "True")],
        ),
        CURRENT,
    ),
    ("CRD no conditions yet", obj(CRD, "CustomResourceDefinition", status={}), IN_PROGRESS),
    (
        "CRD installing",
        obj(
            CRD, "CustomResourceDefinition", conditions=[cond("Established", "False", "Installing")]
        ),
        IN_PROGRESS,
    ),
    (
        "CRD names rejected",
        obj(
            CRD,
            "CustomResourceDefinition",
            conditions=[
                cond("NamesAccepted", "False", "MultipleNamesNotAllowed"),
                cond("Established", "False", "NotAccepted"),
            ],
        ),
        FAILED,
    ),
    (
        "CRD not established, not installing",
        obj(
            CRD,
            "CustomResourceDefinition",
            conditions=[cond("Established", "False", "NotAccepted")],
        ),
        FAILED,
    ),
]

DEPLOYMENT_DONE = {
    "replicas": 3,
    "updatedReplicas": 3,
    "readyReplicas": 3,
    "availableReplicas": 3,
    "observedGeneration": 1,
}
DEPLOYMENT_CONDS = [
    cond("Available", "True", "MinimumReplicasAvailable"),
    cond("Progressing", "True", "NewReplicaSetAvailable"),
]
DEPLOYMENT_SPEC = {"replicas": 3, "progressDeadlineSeconds": 600}


def deployment(
    spec: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
    conditions: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    return obj(
        "apps/v1",
        "Deployment",
        spec={**DEPLOYMENT_SPEC, **(spec or {})},
        status={**DEPLOYMENT_DONE, **(status or {})},
        conditions=DEPLOYMENT_CONDS if conditions is None else conditions,
    )


DEPLOYMENTS = [
    ("rolled out", deployment(), CURRENT),
    ("no status at all", obj("apps/v1", "Deployment", spec=DEPLOYMENT_SPEC), IN_PROGRESS),
    ("too few replicas", deployment(status={"replicas": 2}), IN_PROGRESS),
    ("too few updated", deployment(status={"updatedReplicas": 2}), IN_PROGRESS),
    ("old pods terminating", deployment(status={"replicas": 4}), IN_PROGRESS),
    ("updated not available", deployment(status={"availableReplicas": 2}), IN_PROGRESS),
    ("not ready", deployment(status={"readyReplicas": 2}), IN_PROGRESS),
    (
        "still progressing",
        deployment(
            conditions=[cond("Available", "True"), cond("Progressing", "True", "ReplicaSetUpdated")]
        ),
        IN_PROGRESS,
    ),
    (
        "not available",
        deployment(
            conditions=[
                cond("Available", "False"),
                cond("Progressing", "True", "NewReplicaSetAvailable"),
            ]
        ),
        IN_PROGRESS,
    ),
    (
        "deadline exceeded",
        deployment(conditions=[cond("Progressing", "False", "ProgressDeadlineExceeded")]),
        FAILED,
    ),
    (
        "null progress deadline: Progressing not needed",
        deployment(spec={"progressDeadlineSeconds": None}, conditions=[cond("Available", "True")]),
        CURRENT,
    ),
    (
        "MaxInt32 progress deadline: Progressing not needed",
        deployment(
            spec={"progressDeadlineSeconds": 2**31 - 1}, conditions=[cond("Available", "True")]
        ),
        CURRENT,
    ),
    (
        "progress deadline set: Progressing needed",
        deployment(conditions=[cond("Available", "True")]),
        IN_PROGRESS,
    ),
    (
        "spec.replicas defaults to 1",
        obj(
            "apps/v1",
            "Deployment",
            spec={"progressDeadlineSeconds": 600},
            status={
                "replicas": 1,
                "updatedReplicas": 1,
                "readyReplicas": 1,
                "availableReplicas": 1,
            },
            conditions=DEPLOYMENT_CONDS,
        ),
        CURRENT,
    ),
    (
        "scaled to zero",
        deployment(
            spec={"replicas": 0},
            status={
                "replicas": 0,
                "updatedReplicas": 0,
                "readyReplicas": 0,
                "availableReplicas": 0,
            },
        ),
        CURRENT,
    ),
    ("generation not observed", deployment(status={"observedGeneration": 0}), IN_PROGRESS),
]


def _no_deadline() -> dict[str, Any]:
    body = deployment(conditions=[cond("Available", "True")])
    del body["spec"]["progressDeadlineSeconds"]
    return body


DEPLOYMENTS.append(("no progressDeadlineSeconds at all", _no_deadline(), CURRENT))


def statefulset(
    spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None
) -> dict[str, Any]:
    done = {
        "replicas": 3,
        "readyReplicas": 3,
        "currentReplicas": 3,
        "updatedReplicas": 3,
        "currentRevision": "r1",
        "updateRevision": "r1",
    }
    return obj(
        "apps/v1",
        "StatefulSet",
        spec={"replicas": 3, **(spec or {})},
        status={**done, **(status or {})},
    )


PARTITION = {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}}
STATEFULSETS = [
    ("all current", statefulset(), CURRENT),
    (
        "OnDelete is user managed",
        obj(
            "apps/v1",
            "StatefulSet",
            spec={"replicas": 3, "updateStrategy": {"type": "OnDelete"}},
            status={},
        ),
        CURRENT,
    ),
    ("too few replicas", statefulset(status={"replicas": 2}), IN_PROGRESS),
    ("not ready", statefulset(status={"readyReplicas": 2}), IN_PROGRESS),
    ("pending termination", statefulset(status={"replicas": 4}), IN_PROGRESS),
    ("not current", statefulset(status={"currentReplicas": 1}), IN_PROGRESS),
    ("revision mismatch", statefulset(status={"updateRevision": "r2"}), IN_PROGRESS),
    (
        "partition: 1 of 1 updated, revisions differ",
        statefulset(
            spec=PARTITION,
            status={"currentReplicas": 2, "updatedReplicas": 1, "updateRevision": "r2"},
        ),
        CURRENT,
    ),
    (
        "partition: 0 of 1 updated",
        statefulset(spec=PARTITION, status={"updatedReplicas": 0, "updateRevision": "r2"}),
        IN_PROGRESS,
    ),
]


def daemonset(status: dict[str, Any] | None = None, generation: int | None = 1) -> dict[str, Any]:
    done = {
        "observedGeneration": 1,
        "desiredNumberScheduled": 2,
        "currentNumberScheduled": 2,
        "updatedNumberScheduled": 2,
        "numberAvailable": 2,
        "numberReady": 2,
    }
    return obj("apps/v1", "DaemonSet", status={**done, **(status or {})}, generation=generation)


DAEMONSETS = [
    ("all scheduled", daemonset(), CURRENT),
    ("observedGeneration required", daemonset({"observedGeneration": None}), IN_PROGRESS),
    ("generation required", daemonset(generation=None), IN_PROGRESS),
    ("desired missing", daemonset({"desiredNumberScheduled": None}), IN_PROGRESS),
    (
        "zero desired (no nodes)",
        daemonset(
            {
                "desiredNumberScheduled": 0,
                "currentNumberScheduled": 0,
                "updatedNumberScheduled": 0,
                "numberAvailable": 0,
                "numberReady": 0,
            }
        ),
        CURRENT,
    ),
    ("not updated", daemonset({"updatedNumberScheduled": 1}), IN_PROGRESS),
    ("not available", daemonset({"numberAvailable": 1}), IN_PROGRESS),
    ("not ready", daemonset({"numberReady": 1}), IN_PROGRESS),
]

REPLICASETS = [
    (
        "available",
        obj(
            "apps/v1",
            "ReplicaSet",
            spec={"replicas": 2},
            status={
                "replicas": 2,
                "fullyLabeledReplicas": 2,
                "availableReplicas": 2,
                "readyReplicas": 2,
            },
        ),
        CURRENT,
    ),
    (
        "replica failure",
        obj(
            "apps/v1",
            "ReplicaSet",
            spec={"replicas": 2},
            status={
                "replicas": 2,
                "fullyLabeledReplicas": 2,
                "availableReplicas": 2,
                "readyReplicas": 2,
            },
            conditions=[cond("ReplicaFailure", "True")],
        ),
        IN_PROGRESS,
    ),
    (
        "not ready",
        obj(
            "apps/v1",
            "ReplicaSet",
            spec={"replicas": 2},
            status={
                "replicas": 2,
                "fullyLabeledReplicas": 2,
                "availableReplicas": 2,
                "readyReplicas": 1,
            },
        ),
        IN_PROGRESS,
    ),
]

JOBS = [
    ("complete", obj("batch/v1", "Job", conditions=[cond("Complete", "True")]), CURRENT),
    (
        "failed",
        obj("batch/v1", "Job", conditions=[cond("Failed", "True", "BackoffLimitExceeded")]),
        FAILED,
    ),
    ("suspended", obj("batch/v1", "Job", conditions=[cond("Suspended", "True")]), CURRENT),
    (
        "running",
        obj("batch/v1", "Job", status={"startTime": "2026-01-01T00:00:00Z", "active": 1}),
        CURRENT,
    ),
    ("not started", obj("batch/v1", "Job", status={}), IN_PROGRESS),
    (
        "Complete=False, not started",
        obj("batch/v1", "Job", conditions=[cond("Complete", "False")]),
        IN_PROGRESS,
    ),
    ("CronJob always", obj("batch/v1", "CronJob", status={}), CURRENT),
]

CORE = [
    ("PVC bound", obj("v1", "PersistentVolumeClaim", status={"phase": "Bound"}), CURRENT),
    ("PVC pending", obj("v1", "PersistentVolumeClaim", status={"phase": "Pending"}), IN_PROGRESS),
    ("PVC no status", obj("v1", "PersistentVolumeClaim"), IN_PROGRESS),
    ("ClusterIP service", obj("v1", "Service", spec={"type": "ClusterIP"}), CURRENT),
    ("service without type", obj("v1", "Service", spec={}), CURRENT),
    (
        "LB with cluster IP",
        obj("v1", "Service", spec={"type": "LoadBalancer", "clusterIP": "10.0.0.5"}),
        CURRENT,
    ),
    ("LB without cluster IP", obj("v1", "Service", spec={"type": "LoadBalancer"}), IN_PROGRESS),
    ("ConfigMap", obj("v1", "ConfigMap"), CURRENT),
    ("Secret", obj("v1", "Secret"), CURRENT),
    ("PDB", obj("policy/v1", "PodDisruptionBudget", status={}), CURRENT),
    ("pod succeeded", obj("v1", "Pod", status={"phase": "Succeeded"}), CURRENT),
    ("pod failed is done", obj("v1", "Pod", status={"phase": "Failed"}), CURRENT),
    (
        "pod running ready",
        obj("v1", "Pod", status={"phase": "Running"}, conditions=[cond("Ready", "True")]),
        CURRENT,
    ),
    (
        "pod running not ready",
        obj("v1", "Pod", status={"phase": "Running"}, conditions=[cond("Ready", "False")]),
        IN_PROGRESS,
    ),
    (
        "pod crash looping",
        obj(
            "v1",
            "Pod",
            status={
                "phase": "Running",
                "containerStatuses": [
                    {"name": "ok", "state": {"running": {}}},
                    {"name": "bad", "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
                ],
            },
            conditions=[cond("Ready", "False")],
        ),
        FAILED,
    ),
    ("pod pending", obj("v1", "Pod", status={"phase": "Pending"}), IN_PROGRESS),
    (
        "pod unschedulable",
        obj(
            "v1",
            "Pod",
            status={"phase": "Pending"},
            conditions=[cond("PodScheduled", "False", "Unschedulable", "0/3 nodes")],
        ),
        IN_PROGRESS,
    ),
    ("pod not observed", obj("v1", "Pod"), IN_PROGRESS),
]

ORC = "openstack.k-orc.cloud/v1alpha1"
CSPO = "infrastructure.clusterstack.x-k8s.io/v1alpha1"
NODE_IMAGES = [
    ("orc image without status (kstatus: Current)", obj(ORC, "Image"), IN_PROGRESS),
    (
        "orc image uploading",
        obj(ORC, "Image", conditions=[cond("Available", "False"), cond("Progressing", "True")]),
        IN_PROGRESS,
    ),
    (
        "orc image available",
        obj(ORC, "Image", conditions=[cond("Available", "True"), cond("Progressing", "False")]),
        CURRENT,
    ),
    (
        "orc image terminal error",
        obj(
            ORC,
            "Image",
            conditions=[
                cond("Available", "False"),
                cond("Progressing", "False", "InvalidConfiguration"),
            ],
        ),
        FAILED,
    ),
    ("orc network too", obj(ORC, "Network", conditions=[cond("Progressing", "True")]), IN_PROGRESS),
    ("provider release not ready", obj(CSPO, "OpenStackClusterStackRelease"), IN_PROGRESS),
    (
        "provider release ready",
        obj(CSPO, "OpenStackClusterStackRelease", status={"ready": True}),
        CURRENT,
    ),
    (
        "cso's own release keeps the generic rules",
        obj("clusterstack.x-k8s.io/v1alpha1", "ClusterStackRelease", status={"ready": False}),
        CURRENT,
    ),
]

TABLE = (
    GENERIC
    + CRDS
    + DEPLOYMENTS
    + STATEFULSETS
    + DAEMONSETS
    + REPLICASETS
    + JOBS
    + CORE
    + NODE_IMAGES
)


@pytest.mark.parametrize(
    ("live", "expected"), [(o, e) for _, o, e in TABLE], ids=[name for name, _, _ in TABLE]
)
def test_compute(live: dict[str, Any] | None, expected: str) -> None:
    assert compute(live).status == expected


def test_messages_say_why() -> None:
    assert "2/3" in compute(deployment(status={"readyReplicas": 2})).message
    assert "bad" in compute({n: o for n, o, _ in CORE}["pod crash looping"]).message
    stalled = obj(CR, "Thing", conditions=[cond("Stalled", "True", message="quota exceeded")])
    assert compute(stalled).message == "quota exceeded"


# ------------------------------------------------------------------ wait_for


def scripted(states: dict[str, list[dict[str, Any] | None]]):  # type: ignore[no-untyped-def]
    """fetch() that returns each key's states in turn, the last one forever."""
    calls: dict[str, int] = {}

    def fetch(key: str) -> dict[str, Any] | None:
        index = calls.get(key, 0)
        calls[key] = index + 1
        seq = states[key]
        return seq[min(index, len(seq) - 1)]

    return fetch, calls


READY = obj(CR, "Thing", conditions=[cond("Ready", "True")])
NOT_READY = obj(CR, "Thing", conditions=[cond("Ready", "False", message="waiting")])
BROKEN = obj(CR, "Thing", conditions=[cond("Stalled", "True", message="broken")])


def test_wait_until_all_current() -> None:
    clock = FakeClock()
    fetch, calls = scripted({"a": [NOT_READY, NOT_READY, READY], "b": [READY]})
    report = wait_for(
        ["a", "b"],
        fetch,
        timeout=10,
        cancelled=lambda: False,
        clock=clock,
        interval=0.5,
    )
    assert report.pending == {} and report.failed == {}
    assert calls == {"a": 3, "b": 1}  # a Current object is not fetched again
    assert clock.sleeps == [0.5, 0.5]


def test_wait_fails_fast() -> None:
    clock = FakeClock()
    fetch, _calls = scripted({"a": [NOT_READY], "b": [NOT_READY, BROKEN]})
    report = wait_for(["a", "b"], fetch, timeout=10, cancelled=lambda: False, clock=clock)
    assert report.failed == {"b": Health(FAILED, "broken")}
    assert report.pending.keys() == {"a", "b"}
    assert clock.now < 2


def test_wait_times_out_with_the_last_status() -> None:
    clock = FakeClock()
    fetch, _ = scripted({"a": [NOT_READY], "gone": [None]})
    report = wait_for(
        ["a", "gone"],
        fetch,
        timeout=3,
        cancelled=lambda: False,
        clock=clock,
        interval=1,
    )
    assert report.pending == {
        "a": Health(IN_PROGRESS, "waiting"),
        "gone": Health(NOT_FOUND, "not found"),
    }
    assert clock.now == 3 and not report.failed


def test_wait_stops_when_cancelled() -> None:
    clock = FakeClock()
    fetch, calls = scripted({"a": [NOT_READY]})
    report = wait_for(
        ["a"],
        fetch,
        timeout=60,
        cancelled=lambda: clock.now >= 1,
        clock=clock,
        interval=0.5,
    )
    assert report.pending.keys() == {"a"} and calls["a"] == 3 and clock.now == 1


def test_wait_for_nothing() -> None:
    clock = FakeClock()
    report = wait_for([], lambda key: None, timeout=1, cancelled=lambda: False, clock=clock)
    assert report.statuses == {} and clock.sleeps == []


def test_wait_by_changes_judges_each_object_as_it_changes_without_reading_again() -> None:
    clock = FakeClock()
    fetch, calls = scripted({"a": [NOT_READY], "b": [NOT_READY]})
    events = iter([("b", READY), None, ("other", NOT_READY), ("a", READY)])
    report = wait_for(
        ["a", "b"],
        fetch,
        timeout=10,
        cancelled=lambda: False,
        clock=clock,
        changes=lambda timeout: next(events),
    )
    assert report.pending == {} and calls == {"a": 1, "b": 1} and clock.sleeps == []


def test_wait_by_changes_fails_fast_and_reports_a_deleted_object() -> None:
    clock = FakeClock()
    fetch, _ = scripted({"a": [NOT_READY], "b": [NOT_READY]})
    events = iter([("a", None), ("b", BROKEN)])
    report = wait_for(
        ["a", "b"],
        fetch,
        timeout=10,
        cancelled=lambda: False,
        clock=clock,
        changes=lambda timeout: next(events),
    )
    assert report.failed == {"b": Health(FAILED, "broken")}
    assert report.statuses["a"] == Health(NOT_FOUND, "not found")


def test_a_refused_watch_falls_back_to_reading_again() -> None:
    clock = FakeClock()
    fetch, calls = scripted({"a": [NOT_READY, NOT_READY, READY]})
    events = iter([None, (RECHECK, None)])
    report = wait_for(
        ["a"],
        fetch,
        timeout=10,
        cancelled=lambda: False,
        clock=clock,
        interval=0.5,
        changes=lambda timeout: next(events),
    )
    assert report.pending == {} and calls == {"a": 3} and clock.sleeps == [0.5]
