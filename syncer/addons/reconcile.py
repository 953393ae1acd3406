"""Reconciling ONE cluster's addons: plan, stages, waits, cleanup, status and Events.

The :class:`~syncer.addons.controller.AddonController` decides *when* a cluster is
reconciled; this module decides *what* a reconcile does. It is one class, the orchestration;
the decisions it strings together live in ``plan``, ``gate``, ``waits`` and ``status``, the
work in ``stages`` and the engine. A little over our usual module length on purpose: splitting
the one orchestration class would scatter the order of a reconcile over several files.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from csops.syncer import logs
from csops.syncer.addons import charts, gate, waits
from csops.syncer.addons.addonstore import ClusterAddons
from csops.syncer.addons.charts import ClusterContext
from csops.syncer.addons.cluster import ClusterView
from csops.syncer.addons.errors import (
    AddonError,
    ChartError,
    ReleaseMissingError,
)
from csops.syncer.addons.options import AddonOptions, Result
from csops.syncer.addons.plan import (
    CREATED,
    INSTALL,
    STEADY,
    SWITCH,
    UPGRADE,
    UPGRADED,
    AddonState,
    Phase,
    Plan,
    StageEntry,
    decide,
)
from csops.syncer.addons.releases import ReleaseBundle, ReleaseCatalog
from csops.syncer.addons.stages import (
    WAITING,
    Progress,
    StageRunner,
    delete,
    records_of,
    workload_engine,
)
from csops.syncer.addons.status import AddonStatus, target
from csops.syncer.addons.workload import WorkloadClients
from csops.syncer.clock import SYSTEM, Clock
from csops.syncer.conditions import ResourceEntry, entry_id
from csops.syncer.engine import Engine
from csops.syncer.errors import ApiError, LeadershipLostError
from csops.syncer.events import EventType, Reason
from csops.syncer.kube import Kube
from csops.syncer.objects import ObjectId
from csops.syncer.statuswriter import StatusWriter

COMPONENT = "csops-addons"


@dataclass
class _Run:
    """One reconcile of one cluster: what it works with and what it learns (→ status)."""

    cluster: ClusterView
    state: AddonState
    catalog: ReleaseCatalog
    revision: str
    writer: StatusWriter
    addon: dict[str, Any] = field(default_factory=dict)  # the live ClusterAddon (for Events)
    status: AddonStatus = field(default_factory=AddonStatus)
    records: dict[ObjectId, ResourceEntry] = field(default_factory=dict)


@dataclass(frozen=True)
class _Workload:
    """The workload cluster a run writes to, and what its values files read."""

    engine: Engine
    context: ClusterContext


class ClusterReconciler:
    """Brings one cluster's addons to the state its class's release asks for."""

    def __init__(
        self,
        kube: Kube,
        options: AddonOptions,
        clients: WorkloadClients,
        releases: Callable[[], tuple[ReleaseCatalog | None, str]],
        clock: Clock = SYSTEM,
    ) -> None:
        self.kube = kube
        self.options = options
        self.clients = clients
        self.addons = ClusterAddons(kube)
        self.clock = clock
        self.log = logs.get()
        self._current = releases
        self._lock = threading.Lock()
        self._failures: dict[str, str] = {}  # cluster → last failure reported as an Event

    def _releases(self) -> tuple[ReleaseCatalog | None, str]:
        return self._current()

    def _may_write(self) -> bool:
        allowed = self.options.may_run
        return allowed is None or allowed()

    def reconcile(self, cluster: ClusterView) -> Result:
        catalog, revision = self._releases()
        if catalog is None:
            return Result(cluster.key, False, self.options.tick, "no releases yet")
        try:
            addon = self.addons.ensure(cluster)
        except ApiError as exc:
            self.log.error("cannot write ClusterAddon", extra={"cluster": cluster.key})
            return Result(cluster.key, False, 0.0, f"ClusterAddon: {exc}", error=True)
        state = AddonState.of(addon)
        writer = StatusWriter(self.kube, component=COMPONENT, clock=self.clock)
        run = _Run(cluster, state, catalog, revision, writer, addon)
        run.records = {entry_id(r): r for r in state.resources}
        status = run.status
        status.stages = list(state.stages)
        if self.options.hook_server_ready is not None:
            ok = self.options.hook_server_ready()
            status.set(
                "HookServerReady",
                ok,
                "" if ok else "HookServerUnresponsive",
                "" if ok else "the runtime-extension server is not serving",
            )
        result: Result
        try:
            addon, result = self._converge(addon, run)
        except LeadershipLostError as exc:
            # Another replica leads now: it owns the workload and this ClusterAddon.
            return Result(cluster.key, False, self.options.tick, str(exc))
        except AddonError as exc:
            status.failed(exc)
            result = Result(cluster.key, False, 0.0, str(exc), error=True)
        except ApiError as exc:
            status.set("HelmChartApplied", False, "WorkloadRequestFailed", str(exc))
            result = Result(cluster.key, False, 0.0, str(exc), error=True)
        self._upgrade_timeout(cluster, addon, status)
        status.resources = list(run.records.values())
        if not self._may_write():
            return Result(cluster.key, False, self.options.tick, "lost leadership")
        failed = self._write_status(run, addon)
        if failed:
            return Result(cluster.key, False, 0.0, failed, error=True)
        if result.error:
            self.log.warning(
                "addons not converged", extra={"cluster": cluster.key, "error": result.message}
            )
        self._failure_event(run, result)
        return result

    def _failure_event(self, run: _Run, result: Result) -> None:
        """A ``Failed`` Event when a cluster starts failing or fails differently (not per retry)."""
        key = run.cluster.key
        with self._lock:
            before = self._failures.get(key)
            if result.error:
                self._failures[key] = result.message
            elif result.ready:
                self._failures.pop(key, None)
        if result.error and result.message != before:
            run.writer.event(run.addon, Reason.FAILED, result.message, EventType.WARNING)

    def _write_status(self, run: _Run, addon: dict[str, Any]) -> str:
        """Write the ClusterAddon's status when it changed; the error when that failed."""
        written = len(run.writer.errors)
        try:
            live = self.addons.get(run.cluster) or addon
        except ApiError as exc:
            return f"ClusterAddon status: {exc}"
        run.writer.write(target(live), run.status.body(), live=live)
        return "; ".join(run.writer.errors[written:])

    def _converge(self, addon: dict[str, Any], run: _Run) -> tuple[dict[str, Any], Result]:
        cluster, state, status = run.cluster, run.state, run.status
        new = run.catalog.for_class(cluster.class_name)
        status.set("ClusterStackReleaseAvailable", True)
        annotations = (addon.get("metadata") or {}).get("annotations") or {}
        initialized = cluster.control_plane_initialized or (
            annotations.get(gate.INITIALIZED_ANNOTATION) == "true"
        )
        if not initialized and not state.cluster_stack:
            status.set(
                "ClusterReady",
                False,
                "ControlPlaneNotReady",
                "waiting for the control plane to be initialized",
            )
            return addon, Result(
                cluster.key, False, self.options.waiting_interval, "control plane not initialized"
            )
        kube = self.clients.client(cluster)
        status.set("ClusterReady", True)
        old = None
        if state.cluster_stack and state.cluster_stack != cluster.class_name:
            with contextlib.suppress(ReleaseMissingError):
                old = run.catalog.for_class(state.cluster_stack)
        plan = decide(cluster.class_name, state, new, old)
        engine = workload_engine(kube, may_write=self._may_write, clock=self.clock)
        workload = _Workload(engine, charts.context_of(self.kube, cluster))
        if plan.action == STEADY:
            return addon, self._steady(run, workload, new)
        if plan.action == SWITCH:
            addon = self._record(run, plan, new, state.stage_annotation)
            return addon, self._steady(run, workload, new, note=plan.reason)
        return self._run_stages(addon, run, workload, plan, (new, old))

    def _run_stages(
        self,
        addon: dict[str, Any],
        run: _Run,
        workload: _Workload,
        plan: Plan,
        releases: tuple[ReleaseBundle, ReleaseBundle | None],
    ) -> tuple[dict[str, Any], Result]:
        cluster, state, status = run.cluster, run.state, run.status
        new, old = releases
        wait = waits.state_of(addon)
        if state.run != plan.run or state.hook != plan.hook:
            self.log.info("addon run starts", extra={"cluster": cluster.key, "reason": plan.reason})
            addon = self._start(run, plan)
            wait = None
            if plan.action == UPGRADE:
                run.writer.event(addon, Reason.UPGRADE_STARTED, plan.reason)
        status.ready = False
        if wait is not None and waits.blocked(wait, plan.run, run.revision):
            status.stages = _stages(plan, plan.phases)
            return addon, self._timed_out(run, wait)

        def on_phase(phases: list[Phase]) -> None:
            status.stages = _stages(plan, phases)
            if any(p in WAITING for p in phases):
                return  # the pass ends here; its final write carries the condition with it
            status.resources = list(run.records.values())
            self._write_status(run, addon)  # progress only: a failure shows in the final write

        status.stages = _stages(plan, plan.phases)
        runner = StageRunner(workload.engine, workload.context, new, old, on_phase)
        progress = runner.run(plan.stages, list(plan.phases))
        status.stages = _stages(plan, progress.phases)
        self._merge(run, progress)
        status.report(progress)
        if progress.failed:
            return addon, Result(cluster.key, False, 0.0, "; ".join(progress.failed), error=True)
        if not progress.done:
            return self._waiting(addon, run, plan, progress, wait)
        if plan.cleanup:
            errors = self._cleanup(run, workload, plan, releases)
            if errors:
                status.set("HelmChartDeleted", False, "FailedToDeleteObjects", "; ".join(errors))
                return addon, Result(cluster.key, False, 0.0, "; ".join(errors), error=True)
        stage = CREATED if plan.action == INSTALL else UPGRADED
        addon = self._record(run, plan, new, stage)
        status.ready = True
        status.set("HelmChartApplied", True)
        self.log.info("addons applied", extra={"cluster": cluster.key, "class": plan.target_class})
        if plan.action == UPGRADE:
            run.writer.event(addon, Reason.UPGRADE_DONE, f"{plan.reason}: done")
        else:
            run.writer.event(addon, Reason.APPLIED, f"addons of {new.name} applied")
        return addon, Result(cluster.key, True, self.options.interval, plan.reason)

    def _waiting(
        self,
        addon: dict[str, Any],
        run: _Run,
        plan: Plan,
        progress: Progress,
        wait: waits.StageWait | None,
    ) -> tuple[dict[str, Any], Result]:
        """A condition holds a stage: record since when; past the stage timeout, fail it."""
        cluster = run.cluster
        index = progress.waiting_stage
        if index is None:  # not waiting on a condition (cannot happen; be safe)
            return addon, Result(
                cluster.key, False, self.options.waiting_interval, progress.waiting
            )
        now = self.clock.time()
        current = waits.track(
            wait,
            run=plan.run,
            stage=index,
            name=plan.stages[index].name,
            phase=progress.phases[index],
            now=now,
            message=progress.waiting,
        )
        timed_out = waits.expired(current, now, self.options.stage_timeout)
        if timed_out:
            current = waits.fail(current, run.revision)
        if wait is None or (current.run, current.stage, current.phase, current.failed) != (
            wait.run,
            wait.stage,
            wait.phase,
            wait.failed,
        ):
            addon = self._start(run, plan, wait=current.encode())
            run.addon = addon
        if timed_out:
            message = current.describe(self.options.stage_timeout)
            self.log.warning("stage timed out", extra={"cluster": cluster.key, "error": message})
            run.writer.event(addon, Reason.FAILED, message, EventType.WARNING)
            with self._lock:  # reported: the retries of the blocked run stay quiet
                self._failures[cluster.key] = message
            return addon, self._timed_out(run, current)
        return addon, Result(cluster.key, False, self.options.waiting_interval, progress.waiting)

    def _timed_out(self, run: _Run, wait: waits.StageWait) -> Result:
        """The run is stopped on this revision: say so; check back at the resync interval."""
        message = wait.describe(self.options.stage_timeout)
        run.status.set("EvaluatedCEL", False, wait.reason, message)
        run.status.set("HelmChartApplied", False, "StageTimedOut", message)
        run.status.ready = False
        return Result(run.cluster.key, False, self.options.interval, message)

    def _steady(
        self, run: _Run, workload: _Workload, bundle: ReleaseBundle, note: str = ""
    ) -> Result:
        """Re-apply what differs from the applied release (drift correction)."""
        cluster, status = run.cluster, run.status
        hook = run.state.last_hook
        objects = [
            o
            for name in bundle.applied_charts(hook)
            for o in charts.render(bundle, name, workload.context)
        ]
        status.set("HelmChartFound", True)
        status.set("HelmChartTemplated", True)
        run.records = records_of(workload.engine.apply(objects))
        errors = [f"apply {oid}: {r['error']}" for oid, r in run.records.items() if r.get("error")]
        if errors:
            status.set("HelmChartApplied", False, "FailedToApplyObjects", "; ".join(errors))
            status.ready = False
            return Result(cluster.key, False, 0.0, "; ".join(errors), error=True)
        status.set("HelmChartApplied", True)
        status.ready = True
        return Result(cluster.key, True, self.options.interval, note or "in sync")

    def _merge(self, run: _Run, progress: Progress) -> None:
        for oid in progress.deleted:
            run.records.pop(oid, None)
        run.records.update(progress.records)

    def _cleanup(
        self,
        run: _Run,
        workload: _Workload,
        plan: Plan,
        releases: tuple[ReleaseBundle, ReleaseBundle | None],
    ) -> list[str]:
        """Delete what the old release (or our records) had and the new release has not."""
        new, old = releases
        engine, context = workload.engine, workload.context
        keep = engine.identify(
            o for name in new.applied_charts(plan.hook) for o in charts.render(new, name, context)
        )
        before: set[ObjectId] = set(run.records)
        if old is not None:
            for name in old.applied_charts(run.state.last_hook):
                with contextlib.suppress(ChartError):
                    before |= engine.identify(charts.render(old, name, context))
        deleted, errors = delete(engine, before - keep)
        for oid in deleted:
            run.records.pop(oid, None)
        for oid in before - keep:
            run.records.pop(oid, None)
        if not errors:
            run.status.set("HelmChartDeleted", True)
        return errors

    def _start(self, run: _Run, plan: Plan, wait: str = "") -> dict[str, Any]:
        """Record that ``plan``'s run is under way (and the stage wait it is in)."""
        state = run.state
        return self.addons.apply_spec(
            run.cluster,
            cluster_stack=state.cluster_stack,
            version=state.version,
            hook=plan.hook,
            stage=state.stage_annotation,
            run_key=plan.run,
            wait=wait,
        )

    def _record(self, run: _Run, plan: Plan, new: ReleaseBundle, stage: str) -> dict[str, Any]:
        """The run is complete: record the class and addon version, clear the hook."""
        return self.addons.apply_spec(
            run.cluster,
            cluster_stack=plan.target_class,
            version=new.addon_version.dot,
            hook="",
            stage=stage,
            run_key=plan.run or run.state.run,
        )

    def _upgrade_timeout(
        self, cluster: ClusterView, addon: dict[str, Any], status: AddonStatus
    ) -> None:
        state = gate.state_of(addon)
        if state is None or state.target != cluster.class_name:
            return
        decision = gate.decide(state, addon, self.clock.time(), self.options.upgrade_timeout)
        if decision.timed_out and not status.ready:
            status.warn("UpgradeTimedOut", "UpgradeProceededWithoutAddons", decision.message)


def _stages(plan: Plan, phases: list[Phase]) -> list[StageEntry]:
    return [
        {
            "name": s.name,
            "action": str(s.action),
            "phase": str(phases[i] if i < len(phases) else Phase.PENDING),
        }
        for i, s in enumerate(plan.stages)
    ]


__all__ = ["ClusterReconciler"]
