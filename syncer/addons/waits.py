"""Bounded stage waits — pure: a pre- or post-condition may hold a stage only so long.

The wait a run is in (run, stage, phase, since) is recorded in the ClusterAddon annotation
``addons.csops.dev/stage-wait``, so it survives restarts. When a condition stays false longer
than the stage timeout, the wait is marked failed for the revision it failed on: the stage stops
being retried (a condition says why) until a new revision arrives or the target class changes
(a new run).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from csops.syncer.addons.plan import Phase

WAIT_ANNOTATION = "addons.csops.dev/stage-wait"
MESSAGE_LIMIT = 300


@dataclass(frozen=True)
class StageWait:
    run: str  # the run key ("<hook> <target class>")
    stage: int  # index into the run's stages
    name: str
    phase: str  # waitingForPreCondition | waitingForPostCondition
    since: float  # wall clock, seconds
    revision: str = ""  # the releases' revision a failure belongs to
    failed: bool = False
    message: str = ""  # what was awaited, last seen

    def encode(self) -> str:
        return json.dumps(
            {
                "run": self.run,
                "stage": self.stage,
                "name": self.name,
                "phase": self.phase,
                "since": self.since,
                "revision": self.revision,
                "failed": self.failed,
                "message": self.message[:MESSAGE_LIMIT],
            },
            sort_keys=True,
        )

    @property
    def which(self) -> str:
        return "Pre" if self.phase == Phase.WAITING_PRE else "Post"

    @property
    def reason(self) -> str:
        """The condition reason of a timed-out wait."""
        return f"{self.which}ConditionTimedOut"

    def describe(self, timeout: float) -> str:
        awaited = f" ({self.message})" if self.message else ""
        return (
            f"stage {self.stage + 1} {self.name!r}: {self.which.lower()}-condition not met "
            f"within {timeout:g}s{awaited}; stopped — a new revision or a new target class "
            "retries"
        )


def state_of(addon: dict[str, Any] | None) -> StageWait | None:
    annotations = ((addon or {}).get("metadata") or {}).get("annotations") or {}
    raw = annotations.get(WAIT_ANNOTATION)
    if not raw:
        return None
    try:
        data = json.loads(raw)
        return StageWait(
            run=str(data["run"]),
            stage=int(data["stage"]),
            name=str(data.get("name", "")),
            phase=str(data["phase"]),
            since=float(data["since"]),
            revision=str(data.get("revision", "")),
            failed=bool(data.get("failed", False)),
            message=str(data.get("message", "")),
        )
    except (ValueError, KeyError, TypeError):
        return None


def blocked(wait: StageWait | None, run: str, revision: str) -> bool:
    """The run failed on this revision already: do not retry it."""
    return wait is not None and wait.failed and wait.run == run and wait.revision == revision


def track(
    wait: StageWait | None,
    *,
    run: str,
    stage: int,
    name: str,
    phase: str,
    now: float,
    message: str,
) -> StageWait:
    """The wait for ``(run, stage, phase)``: the recorded one continues, else a fresh one."""
    if (
        wait is not None
        and not wait.failed
        and (wait.run, wait.stage, wait.phase) == (run, stage, phase)
    ):
        return replace(wait, message=message[:MESSAGE_LIMIT])
    return StageWait(run, stage, name, phase, now, message=message[:MESSAGE_LIMIT])


def expired(wait: StageWait, now: float, timeout: float) -> bool:
    return timeout > 0 and now - wait.since >= timeout


def fail(wait: StageWait, revision: str) -> StageWait:
    return replace(wait, failed=True, revision=revision)
