"""A port of kstatus (cli-utils ``status.Compute``): Current, InProgress, Failed, Terminating."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

CURRENT = "Current"
IN_PROGRESS = "InProgress"
FAILED = "Failed"
TERMINATING = "Terminating"
NOT_FOUND = "NotFound"


@dataclass(frozen=True)
class Health:
    status: str
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
    rule = _KIND_RULES.get(str(obj.get("kind", "")))
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


def _crd(obj: dict[str, Any], status: dict[str, Any], conds: dict[str, Any]) -> Health:
    names, established = conds.get("NamesAccepted"), conds.get("Established")
    if _is(names, "False"):
        return Health(FAILED, (names or {}).get("message", "names not accepted"))
    if _is(established, "True"):
        return Health(CURRENT, "established")
    if _is(established, "False") and (established or {}).get("reason") != "Installing":
        return Health(FAILED, (established or {}).get("message", "not established"))
    return Health(IN_PROGRESS, "installing")


def _deployment(obj: dict[str, Any], status: dict[str, Any], conds: dict[str, Any]) -> Health:
    progressing = conds.get("Progressing")
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        return Health(FAILED, "progress deadline exceeded")
    spec = obj.get("spec") or {}
    want = int(spec.get("replicas", 1))
    counts = {k: int(status.get(k, 0)) for k in ("replicas", "updatedReplicas", "readyReplicas")}
    available = int(status.get("availableReplicas", 0))
    if counts["updatedReplicas"] < want:
        return Health(IN_PROGRESS, f"updated {counts['updatedReplicas']}/{want}")
    if counts["replicas"] > counts["updatedReplicas"]:
        return Health(IN_PROGRESS, "old replicas pending termination")
    if available < counts["updatedReplicas"] or counts["readyReplicas"] < want:
        return Health(IN_PROGRESS, f"ready {counts['readyReplicas']}/{want}")
    if want and progressing and progressing.get("reason") != "NewReplicaSetAvailable":
        return Health(IN_PROGRESS, "rollout in progress")
    if want and not _is(conds.get("Available"), "True"):
        return Health(IN_PROGRESS, "not available")
    return Health(CURRENT, "available")


def _job(obj: dict[str, Any], status: dict[str, Any], conds: dict[str, Any]) -> Health:
    if _is(conds.get("Failed"), "True"):
        return Health(FAILED, conds["Failed"].get("message", "job failed"))
    if _is(conds.get("Complete"), "True") or _is(conds.get("Suspended"), "True"):
        return Health(CURRENT, "job complete")
    if status.get("startTime"):
        return Health(CURRENT, "job running")
    return Health(IN_PROGRESS, "job not started")


def _pvc(obj: dict[str, Any], status: dict[str, Any], conds: dict[str, Any]) -> Health:
    if status.get("phase") == "Bound":
        return Health(CURRENT, "bound")
    return Health(IN_PROGRESS, "not bound")


def _service(obj: dict[str, Any], status: dict[str, Any], conds: dict[str, Any]) -> Health:
    spec = obj.get("spec") or {}
    if spec.get("type") == "LoadBalancer" and not spec.get("clusterIP"):
        return Health(IN_PROGRESS, "waiting for cluster IP")
    return Health(CURRENT)


def _always(obj: dict[str, Any], status: dict[str, Any], conds: dict[str, Any]) -> Health:
    return Health(CURRENT)


def _pod(obj: dict[str, Any], status: dict[str, Any], conds: dict[str, Any]) -> Health:
    phase = status.get("phase")
    if phase in ("Succeeded", "Failed"):
        return Health(CURRENT, f"pod {phase.lower()}")
    for container in status.get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") == "CrashLoopBackOff":
            return Health(FAILED, f"container {container.get('name')} in CrashLoopBackOff")
    if phase == "Running" and _is(conds.get("Ready"), "True"):
        return Health(CURRENT, "running")
    return Health(IN_PROGRESS, f"pod {phase or 'pending'}")


def _daemonset(obj: dict[str, Any], status: dict[str, Any], conds: dict[str, Any]) -> Health:
    if "desiredNumberScheduled" not in status:
        return Health(IN_PROGRESS, "not scheduled yet")
    want = int(status["desiredNumberScheduled"])
    for key in (
        "currentNumberScheduled",
        "updatedNumberScheduled",
        "numberAvailable",
        "numberReady",
    ):
        if int(status.get(key, 0)) < want:
            return Health(IN_PROGRESS, f"{key} {status.get(key, 0)}/{want}")
    return Health(CURRENT)


def _statefulset(obj: dict[str, Any], status: dict[str, Any], conds: dict[str, Any]) -> Health:
    spec = obj.get("spec") or {}
    if (spec.get("updateStrategy") or {}).get("type") == "OnDelete":
        return Health(CURRENT)
    want = int(spec.get("replicas", 1))
    if int(status.get("readyReplicas", 0)) < want or int(status.get("currentReplicas", 0)) < want:
        return Health(IN_PROGRESS, f"ready {status.get('readyReplicas', 0)}/{want}")
    if status.get("updateRevision") != status.get("currentRevision"):
        return Health(IN_PROGRESS, "rolling update")
    return Health(CURRENT)


_KIND_RULES: dict[str, Rule] = {
    "CustomResourceDefinition": _crd,
    "Deployment": _deployment,
    "Job": _job,
    "PersistentVolumeClaim": _pvc,
    "Service": _service,
    "Pod": _pod,
    "DaemonSet": _daemonset,
    "StatefulSet": _statefulset,
    "Secret": _always,
    "ConfigMap": _always,
    "CronJob": _always,
    "PodDisruptionBudget": _always,
}


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
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    interval: float = 0.5,
) -> WaitReport:
    """Poll until every object is Current; stop at the first Failed, on timeout or cancel.

    Returns the report; the caller decides what a pending or failed entry means.
    """
    statuses: dict[str, Health] = {}
    deadline = clock() + timeout
    remaining = list(keys)
    while True:
        for key in list(remaining):
            health = compute(fetch(key))
            statuses[key] = health
            if health.status == CURRENT:
                remaining.remove(key)
            elif health.status == FAILED:
                return WaitReport(statuses)
        if not remaining or clock() >= deadline or cancelled():
            return WaitReport(statuses)
        sleep(min(interval, max(0.0, deadline - clock())))
