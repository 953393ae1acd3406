"""Runs addon stages in a workload cluster: Pending → waitingForPreCondition →
applyingOrDeleting → waitingForPostCondition → done.

An ``apply`` stage renders the release's chart (and the same chart of the previous release),
applies the new objects through the :class:`~csops.syncer.engine.Engine` and deletes objects of
the old render missing from the new one. A ``delete`` stage renders the chart without overwrite
values and deletes its objects. A stage whose condition is not met stops the run; the next
reconcile resumes there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from csops.renderer import INSTANCE_LABEL, Condition, Stage, StageAction
from csops.syncer.addons import cel, charts
from csops.syncer.addons.charts import OWNED, ClusterContext
from csops.syncer.addons.errors import AddonError
from csops.syncer.addons.plan import Phase
from csops.syncer.addons.releases import ReleaseBundle
from csops.syncer.changeset import Action, ChangeSet
from csops.syncer.clock import SYSTEM, Clock
from csops.syncer.conditions import ResourceEntry, resource_entry
from csops.syncer.engine import Engine, EngineOptions
from csops.syncer.kube import Kube
from csops.syncer.objects import ObjectId
from csops.syncer.ordering import is_crd

DEFAULT_NAMESPACE = "kube-system"
CRD_TIMEOUT = 30.0
CONCURRENCY = 4


WAITING = (Phase.WAITING_PRE, Phase.WAITING_POST)


def workload_engine(
    kube: Kube, *, may_write: Callable[[], bool] = lambda: True, clock: Clock = SYSTEM
) -> Engine:
    """The engine for one workload cluster: objects labelled as ours, ``kube-system`` by
    default, CRDs waited on, no health wait (stages have post-conditions for that). Addons
    take over what the cluster's bootstrap made (kubeadm's CoreDNS, kube-proxy), as CSO does."""
    options = EngineOptions(
        labels={INSTANCE_LABEL: OWNED},
        default_namespace=DEFAULT_NAMESPACE,
        concurrency=CONCURRENCY,
        wait=False,
        crd_timeout=CRD_TIMEOUT,
        adopt=True,
    )
    return Engine(kube, options, clock=clock, may_write=may_write)


def records_of(changes: ChangeSet) -> dict[ObjectId, ResourceEntry]:
    """ClusterAddon ``status.resources`` entries for what an apply did."""
    records = {}
    for change in changes.entries:
        error = ""
        if change.action == Action.FAILED:
            error = change.error or "apply failed"
        elif is_crd(change.id) and change.id in changes.unhealthy:
            error = f"CRD {change.id.name} not Established within {CRD_TIMEOUT:.0f}s"
        records[change.id] = resource_entry(change.id, change.version, error)
    return records


def delete(engine: Engine, ids: set[ObjectId]) -> tuple[list[ObjectId], list[str]]:
    """Delete ``ids``; the ones now gone (deleted, or gone before) and the errors."""
    changes = engine.delete(ids)
    failed = {c.id: c.error for c in changes.failed}
    errors = [f"delete {oid}: {error}" for oid, error in sorted(failed.items())]
    return sorted(ids - set(failed)), errors


@dataclass
class Progress:
    """Where a run stands after :meth:`StageRunner.run`."""

    phases: list[Phase]
    records: dict[ObjectId, ResourceEntry] = field(default_factory=dict)
    waiting: str = ""  # a condition is not met yet (message)
    cel_error: str = ""  # a condition could not be evaluated (message)
    cel_reason: str = ""
    failed: list[str] = field(default_factory=list)  # apply/delete errors
    deleted: list[ObjectId] = field(default_factory=list)
    missing_charts: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return all(p == Phase.DONE for p in self.phases) and not self.failed

    @property
    def waiting_stage(self) -> int | None:
        """The index of the stage a condition holds, if any."""
        return next((i for i, p in enumerate(self.phases) if p in WAITING), None)


class StageRunner:
    """Runs the stages of one plan for one cluster, resuming from recorded phases."""

    def __init__(
        self,
        engine: Engine,
        context: ClusterContext,
        new: ReleaseBundle,
        old: ReleaseBundle | None,
        on_phase: Callable[[list[Phase]], None] | None = None,
    ) -> None:
        self.engine = engine
        self.context = context
        self.new = new
        self.old = old
        self.on_phase = on_phase or (lambda phases: None)

    def run(self, stages: tuple[Stage, ...], phases: list[Phase]) -> Progress:
        progress = Progress(list(phases))
        for i, stage in enumerate(stages):
            if progress.phases[i] == Phase.DONE:
                continue
            pending = progress.phases[i] in (Phase.PENDING, Phase.WAITING_PRE)
            if (
                pending
                and stage.pre is not None
                and not self._condition(stage.pre, "Pre", progress)
            ):
                self._set(progress, i, Phase.WAITING_PRE)
                return progress
            if progress.phases[i] in (Phase.PENDING, Phase.WAITING_PRE, Phase.APPLYING):
                self._set(progress, i, Phase.APPLYING)
                if stage.name not in self.new.charts:
                    # CSO: a stage without chart is reported (HelmChartFound) and skipped
                    progress.missing_charts.append(stage.name)
                elif stage.action == StageAction.DELETE:
                    self._delete(stage, progress)
                else:
                    self._apply(stage, progress)
                if progress.failed:
                    return progress
            if stage.post is not None and not self._condition(stage.post, "Post", progress):
                self._set(progress, i, Phase.WAITING_POST)
                return progress
            self._set(progress, i, Phase.DONE)
        return progress

    def _set(self, progress: Progress, index: int, phase: Phase) -> None:
        if progress.phases[index] != phase:
            progress.phases[index] = phase
            self.on_phase(list(progress.phases))

    def _condition(self, condition: Condition, which: str, progress: Progress) -> bool:
        verdict = cel.check(condition, self.engine.kube)
        if verdict.met:
            return True
        if verdict.error:
            progress.cel_error = verdict.message
            progress.cel_reason = f"FailedToEvaluate{which}Condition"
        progress.waiting = f"{which.lower()}-condition: {verdict.message}"
        return False

    def _apply(self, stage: Stage, progress: Progress) -> None:
        objects = charts.render(self.new, stage.name, self.context)
        records = records_of(self.engine.apply(objects))
        progress.records.update(records)
        progress.failed.extend(
            f"apply {oid}: {r['error']}" for oid, r in records.items() if r.get("error")
        )
        if self.old is not None and stage.name in self.old.charts:
            try:
                old_objects = charts.render(self.old, stage.name, self.context)
            except AddonError as exc:
                progress.failed.append(f"previous release: {exc}")
                return
            gone = self.engine.identify(old_objects) - set(records)
            deleted, errors = delete(self.engine, gone)
            progress.deleted.extend(deleted)
            progress.failed.extend(errors)

    def _delete(self, stage: Stage, progress: Progress) -> None:
        objects = charts.render(self.new, stage.name, self.context, with_values=False)
        ids = self.engine.identify(objects)
        deleted, errors = delete(self.engine, ids)
        for oid in ids:
            progress.records.pop(oid, None)
        progress.deleted.extend(deleted)
        progress.failed.extend(errors)
