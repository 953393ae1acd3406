"""A port of kstatus (cli-utils ``status.Compute``): Current, InProgress, Failed, Terminating.

Beyond kstatus, two families of kinds that kstatus would call Current at once: ORC objects
(``Available``/``Progressing``) and a provider's ClusterStackRelease (``status.ready``).

Kind rules are keyed by group and kind as in kstatus (a CR called ``Service`` gets the generic
rules). One deviation: a Pod that is unschedulable stays InProgress (kstatus fails it after
15 s, which makes the result depend on the clock); the bounded wait reports it instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from csops.syncer.clock import Clock


class Status(StrEnum):
    """kstatus' statuses."""

    CURRENT = "Current"
    IN_PROGRESS = "InProgress"
    FAILED = "Failed"
    TERMINATING = "Terminating"
    NOT_FOUND = "NotFound"


CURRENT = Status.CURRENT
IN_PROGRESS = Status.IN_PROGRESS
FAILED = Status.FAILED
TERMINATING = Status.TERMINATING
NOT_FOUND = Status.NOT_FOUND

# The key a change feed hands over when it can no longer watch: read the pending objects again.
RECHECK = ""


@dataclass(frozen=True)
class Health:
    status: Status
    message: str = ""


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = (obj.get("status") or {}).get("conditions") or []
    return {c.get("type", ""): c for c in found if isinstance(c, dict)}


def _is(cond: dict[str, Any] | None, value: str) -> bool:
    return cond is not None and cond.get("status") == value


def compute(obj: dict[str, Any] | None) -> Health:
    """The kstatus status of a live object (``None`` = not found)."""
    if obj is None:
        return Health(NOT_FOUND, "not found")
    meta = obj.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return Health(TERMINATING, "being deleted")
    status = obj.get("status") or {}
    observed = status.get("observedGeneration") if isinstance(status, dict) else None
    generation = meta.get("generation")
    if observed is not None and generation is not None and observed != generation:
        return Health(IN_PROGRESS, "latest generation not observed")
    conds = _conditions(obj)
    if _is(conds.get("Reconciling"), "True"):
        return Health(IN_PROGRESS, conds["Reconciling"].get("message", "reconciling"))
    if _is(conds.get("Stalled"), "True"):
        return Health(FAILED, conds["Stalled"].get("message", "stalled"))
    rule = _KIND_RULES.get((_group(obj), str(obj.get("kind", "")))) or _family_rule(obj)
    if rule is not None:
        health: Health = rule(obj, status, conds)
        return health
    ready = conds.get("Ready")
    if ready is not None:
        if ready.get("status") == "True":
            return Health(CURRENT, "ready")
        return Health(IN_PROGRESS, ready.get("message") or "not ready")
    return Health(CURRENT)


Rule = Callable[[dict[str, Any], dict[str, Any], dict[str, Any]], Health]


def _int(mapping: dict[str, Any], key: str, default: int) -> int:
    value = mapping.get(key)
    try:
        return default if value is None else int(value)
    except (TypeError, ValueError):
        return default


def _crd(obj: dict[str, Any], status: dict[str, Any], conds: dict[str, Any]) -> Health:
    names, established = conds.get("NamesAccepted"), conds.get("Established")
    if _is(names, "False"):
        return Health(FAILED, (names or {}).get("message", "names not accepted"))
    if _is(established, "False") and (established or {}).get("reason") != "Installing":
        return Health(FAILED, (established or {}).get("message", "not established"))
    if _is(established, "True"):
        return Health(CURRENT, "established")
    return Health(IN_PROGRESS, "installing")


_NO_DEADLINE = 2**31 - 1  # what the deployment controller treats as "no deadline"


def _replica_counts(
    spec: dict[str, Any], status: dict[str, Any], *keys: str
) -> tuple[int, dict[str, int]]:
    return _int(spec, "replicas", 1), {k: _int(status, k, 0) for k in ("replicas", *keys)}


def _deployment(obj: dict[str, Any], status: dict[str, Any], conds: dict[str, Any]) -> Health:
    spec = obj.get("spec") or {}
    progressing = conds.get("Progressing")
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        return Health(FAILED, progressing.get("message") or "progress deadline exceeded")
    # without a progress deadline the controller never sets Progressing
    deadline = spec.get("progressDeadlineSeconds")
    new_rs_available = (
        deadline is None
        or deadline == _NO_DEADLINE
        or (
            _is(progressing, "True")
            and (progressing or {}).get("reason") == "NewReplicaSetAvailable"
        )
    )
    want, n = _replica_counts(spec, status, "updatedReplicas", "readyReplicas", "availableReplicas")
    if want > n["replicas"]:
        return Health(IN_PROGRESS, f"replicas {n['replicas']}/{want}")
    if want > n["updatedReplicas"]:
        return Health(IN_PROGRESS, f"updated {n['updatedReplicas']}/{want}")
    if n["replicas"] > want:
        return Health(IN_PROGRESS, f"pending termination: {n['replicas'] - want}")
    if n["updatedReplicas"] > n["availableReplicas"]:
        return Health(IN_PROGRESS, f"available {n['availableReplicas']}/{n['updatedReplicas']}")
    if want > n["readyReplicas"]:
        return Health(IN_PROGRESS, f"ready {n['readyReplicas']}/{want}")
    if not new_rs_available:
        return Health(IN_PROGRESS, "new ReplicaSet not available")
    if not _is(conds.get("Available"), "True"):
        return Health(IN_PROGRESS, "deployment not available")
    return Health(CURRENT, "available")


def _replicaset(obj: dict[str, Any], status: dict[str, Any], conds: dict[str, Any]) -> Health:
    if _is(conds.get("ReplicaFailure"), "True"):
        return Health(IN_PROGRESS, "replica failure; check the pods")
    want, n = _replica_counts(
        obj.get("spec") or {}, status, "fullyLabeledReplicas", "availableReplicas", "readyReplicas"
    )
    for key in ("fullyLabeledReplicas", "availableReplicas", "readyReplicas"):
        if want > n[key]:
            return Health(IN_PROGRESS, f"{key} {n[key]}/{want}")
    if n["replicas"] > want:
        return Health(IN_PROGRESS, f"pending termination: {n['replicas'] - want}")
    return Health(CURRENT, "available")


def _statefulset(obj: dict[str, Any], status: dict[str, Any], conds: dict[str, Any]) -> Health:
    spec = obj.get("spec") or {}
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type") == "OnDelete":
        return Health(CURRENT, "OnDelete update strategy")
    want, n = _replica_counts(spec, status, "readyReplicas", "currentReplicas", "updatedReplicas")
    if want > n["replicas"]:
        return Health(IN_PROGRESS, f"replicas {n['replicas']}/{want}")
    if want > n["readyReplicas"]:
        return Health(IN_PROGRESS, f"ready {n['readyReplicas']}/{want}")
    if n["replicas"] > want:
        return Health(IN_PROGRESS, f"pending termination: {n['replicas'] - want}")
    partition = _int(strategy.get("rollingUpdate") or {}, "partition", -1)
    if partition != -1:
        if n["updatedReplicas"] < want - partition:
            return Health(IN_PROGRESS, f"updated {n['updatedReplicas']}/{want - partition}")
        return Health(CURRENT, "partition rollout complete")
    if want > n["currentReplicas"]:
        return Health(IN_PROGRESS, f"current {n['currentReplicas']}/{want}")
    if status.get("updateRevision", "") != status.get("currentRevision", ""):
        return Health(IN_PROGRESS, "rolling update")
    return Health(CURRENT)


def _daemonset(obj: dict[str, Any], status: dict[str, Any], conds: dict[str, Any]) -> Health:
    # the controller always sets observedGeneration: unlike the generic rule, require it
    if (obj.get("metadata") or {}).get("generation") is None:
        return Health(IN_PROGRESS, "metadata.generation not set")
    if status.get("observedGeneration") is None:
        return Health(IN_PROGRESS, "not observed by the controller yet")
    want = _int(status, "desiredNumberScheduled", -1)
    if want == -1:
        return Health(IN_PROGRESS, "not scheduled yet")
    for key in (
        "currentNumberScheduled",
        "updatedNumberScheduled",
        "numberAvailable",
        "numberReady",
    ):
        if want > _int(status, key, 0):
            return Health(IN_PROGRESS, f"{key} {_int(status, key, 0)}/{want}")
    return Health(CURRENT)


def _job(obj: dict[str, Any], status: dict[str, Any], conds: dict[str, Any]) -> Health:
    if _is(conds.get("Failed"), "True"):
        return Health(FAILED, conds["Failed"].get("message") or "job failed")
    if _is(conds.get("Complete"), "True"):
        return Health(CURRENT, "job complete")
    if _is(conds.get("Suspended"), "True"):
        return Health(CURRENT, "job suspended")
    if status.get("startTime"):
        return Health(CURRENT, "job running")
    return Health(IN_PROGRESS, "job not started")


def _pvc(obj: dict[str, Any], status: dict[str, Any], conds: dict[str, Any]) -> Health:
    if status.get("phase") == "Bound":
        return Health(CURRENT, "bound")
    return Health(IN_PROGRESS, f"not bound (phase {status.get('phase') or 'unknown'})")


def _service(obj: dict[str, Any], status: dict[str, Any], conds: dict[str, Any]) -> Health:
    spec = obj.get("spec") or {}
    if spec.get("type") == "LoadBalancer" and not spec.get("clusterIP"):
        return Health(IN_PROGRESS, "waiting for cluster IP")
    return Health(CURRENT)


def _always(obj: dict[str, Any], status: dict[str, Any], conds: dict[str, Any]) -> Health:
    return Health(CURRENT)


def _pod(obj: dict[str, Any], status: dict[str, Any], conds: dict[str, Any]) -> Health:
    phase = status.get("phase") or ""
    if phase in ("Succeeded", "Failed"):
        return Health(CURRENT, f"pod {phase.lower()}")
    if phase == "Running":
        if _is(conds.get("Ready"), "True"):
            return Health(CURRENT, "running")
        looping = [
            str(c.get("name"))
            for c in status.get("containerStatuses") or []
            if isinstance(c, dict)
            and ((c.get("state") or {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff"
        ]
        if looping:
            return Health(FAILED, "containers in CrashLoopBackOff: " + ", ".join(looping))
        return Health(IN_PROGRESS, "running, not ready")
    scheduled = conds.get("PodScheduled") or {}
    if (
        phase == "Pending"
        and _is(scheduled, "False")
        and scheduled.get("reason") == "Unschedulable"
    ):
        return Health(IN_PROGRESS, "pod unschedulable: " + str(scheduled.get("message") or ""))
    return Health(IN_PROGRESS, f"pod {phase or 'not observed'}")


def _orc(obj: dict[str, Any], status: dict[str, Any], conds: dict[str, Any]) -> Health:
    """ORC: ``Available`` True is ready; ``Progressing`` False without it is a terminal error."""
    available, progressing = conds.get("Available"), conds.get("Progressing")
    if _is(available, "True"):
        return Health(CURRENT, "available")
    message = (progressing or available or {}).get("message") or ""
    if _is(progressing, "False"):
        return Health(FAILED, message or "not available and no longer progressing")
    return Health(IN_PROGRESS, message or "not available yet")


def _provider_release(obj: dict[str, Any], status: dict[str, Any], conds: dict[str, Any]) -> Health:
    """A provider's ClusterStackRelease (CSO's contract): ready when ``status.ready`` is true."""
    if status.get("ready") is True:
        return Health(CURRENT, "ready")
    ready = conds.get("Ready") or {}
    return Health(IN_PROGRESS, ready.get("message") or "provider has not reported ready")


ORC_GROUP = "openstack.k-orc.cloud"
CSO_GROUP = "clusterstack.x-k8s.io"


def is_provider_release(group: str, kind: str) -> bool:
    """A provider's ClusterStackRelease (OpenStack's ``OpenStackClusterStackRelease``)."""
    return kind.endswith("ClusterStackRelease") and group not in ("", CSO_GROUP)


def _family_rule(obj: dict[str, Any]) -> Rule | None:
    """Rules for a family of kinds: every ORC kind, every provider's ClusterStackRelease."""
    group, kind = _group(obj), str(obj.get("kind", ""))
    if group == ORC_GROUP:
        return _orc
    if is_provider_release(group, kind):
        return _provider_release
    return None


# (group, kind) -> rule, as kstatus' legacyTypes: a CR that happens to be called "Service"
# or "Job" in another group gets the generic rules.
_KIND_RULES: dict[tuple[str, str], Rule] = {
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _crd,
    ("apps", "Deployment"): _deployment,
    ("extensions", "Deployment"): _deployment,
    ("apps", "ReplicaSet"): _replicaset,
    ("extensions", "ReplicaSet"): _replicaset,
    ("apps", "StatefulSet"): _statefulset,
    ("apps", "DaemonSet"): _daemonset,
    ("extensions", "DaemonSet"): _daemonset,
    ("batch", "Job"): _job,
    ("batch", "CronJob"): _always,
    ("", "PersistentVolumeClaim"): _pvc,
    ("", "Service"): _service,
    ("", "Pod"): _pod,
    ("", "Secret"): _always,
    ("", "ConfigMap"): _always,
    ("policy", "PodDisruptionBudget"): _always,
}


def _group(obj: dict[str, Any]) -> str:
    return str(obj.get("apiVersion", "")).rpartition("/")[0]


@dataclass
class WaitReport:
    """The last status of every object that was waited for."""

    statuses: dict[str, Health]

    @property
    def failed(self) -> dict[str, Health]:
        return {k: h for k, h in self.statuses.items() if h.status == FAILED}

    @property
    def pending(self) -> dict[str, Health]:
        return {k: h for k, h in self.statuses.items() if h.status != CURRENT}


def wait_for(
    keys: list[str],
    fetch: Callable[[str], dict[str, Any] | None],
    *,
    timeout: float,
    cancelled: Callable[[], bool],
    clock: Clock,
    interval: float = 0.5,
    known: Callable[[str], dict[str, Any] | None] | None = None,
    changes: Callable[[float], tuple[str, dict[str, Any] | None] | None] | None = None,
) -> WaitReport:
    """Wait until every object is Current; stop at the first Failed, on timeout or cancel.

    ``known`` gives the object as the caller already has it (the apply response); the first
    round judges that instead of reading it again, so objects that are Current at once cost
    no request. After it, ``changes(timeout)`` (a watch: the next ``(key, object)`` that
    changed, or ``None`` after ``timeout`` seconds) re-judges each object as it changes;
    without it, or once it hands over the key :data:`RECHECK` (the watch is refused), the
    pending objects are read again every ``interval`` seconds. Returns the report; the caller
    decides what a pending or failed entry means.
    """
    statuses: dict[str, Health] = {}
    deadline = clock.monotonic() + timeout
    remaining = list(keys)
    read = known or fetch
    first = True
    while True:
        if first or changes is None:
            for key in list(remaining):
                judge = statuses[key] = compute(read(key))
                if judge.status == CURRENT:
                    remaining.remove(key)
                elif judge.status == FAILED:
                    return WaitReport(statuses)
        first = False
        if not remaining or clock.monotonic() >= deadline or cancelled():
            return WaitReport(statuses)
        wait = min(interval, max(0.0, deadline - clock.monotonic()))
        if changes is None:
            read = fetch
            clock.sleep(wait)
            continue
        event = changes(wait)  # returns early with the change; the interval only bounds it
        if event is not None and event[0] == RECHECK:
            read = fetch  # the watch is gone: poll from here on
            changes = None
            continue
        if event is None or event[0] not in remaining:
            continue
        key, obj = event
        judge = statuses[key] = compute(obj)
        if judge.status == CURRENT:
            remaining.remove(key)
        elif judge.status == FAILED:
            return WaitReport(statuses)
