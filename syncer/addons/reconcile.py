"""Reconciling ONE cluster's addons: plan, stages, waits, cleanup, status and Events.

The :class:`~syncer.addons.controller.AddonController` decides *when* a cluster is
reconciled; this module decides *what* a reconcile does.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from csops.syncer import logs
from csops.syncer.addons import charts, clusteraddon, events, gate, waits
from csops.syncer.addons.charts import ClusterContext
from csops.syncer.addons.cluster import ClusterView, ObjectRef
from csops.syncer.addons.engine import (
    PENDING,
    WAITING_POST,
    WAITING_PRE,
    Progress,
    StageEngine,
    Workload,
)
from csops.syncer.addons.errors import (
    AddonError,
    ChartError,
    ReleaseMissingError,
    WorkloadUnreachableError,
)
from csops.syncer.addons.plan import (
    CREATED,
    INSTALL,
    RUN_ANNOTATION,
    STAGE_ANNOTATION,
    STEADY,
    SWITCH,
    UPGRADE,
    UPGRADED,
    AddonState,
    Plan,
    decide,
)
from csops.syncer.addons.releases import ReleaseBundle, ReleaseCatalog
from csops.syncer.addons.status import AddonStatus, write
from csops.syncer.addons.workload import WorkloadClients
from csops.syncer.errors import ApiError, LeadershipLostError
from csops.syncer.kube import Kube
from csops.syncer.objects import ObjectId


@dataclass
class AddonOptions:
    interval: float = 60.0  # resync of converged clusters (drift correction)
    waiting_interval: float = 2.0  # while a condition or the control plane is awaited
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    upgrade_timeout: float = 900.0
    workers: int = 4
    tick: float = 0.5  # loop granularity; also the list period while no watch is running
    resync: float = 10.0  # re-list of Clusters while the watch runs
    stage_timeout: float = 600.0  # longest a pre-/post-condition may hold a stage (0: forever)
    watch: bool = True  # watch Clusters (a new Cluster is picked up at once)
    hook_server_ready: Callable[[], bool] | None = None
    namespace: str | None = None  # only Clusters of this namespace (default: all)
    may_run: Callable[[], bool] | None = None  # e.g. "this replica holds the Lease"


@dataclass
class Result:
    cluster: str
    ready: bool
    requeue_after: float
    message: str = ""
    error: bool = False


@dataclass
class _Run:
    """One reconcile of one cluster: what it works with and what it learns (→ status)."""

    cluster: ClusterView
    state: AddonState
    catalog: ReleaseCatalog
    revision: str
    addon: dict[str, Any] = field(default_factory=dict)  # the live ClusterAddon (for Events)
    status: AddonStatus = field(default_factory=AddonStatus)
    records: dict[ObjectId, dict[str, Any]] = field(default_factory=dict)
    workload: Workload | None = None
    context: ClusterContext | None = None

    def target(self) -> tuple[Workload, ClusterContext]:
        assert self.workload is not None and self.context is not None
        return self.workload, self.context


def _record_key(entry: dict[str, Any]) -> ObjectId:
    return ObjectId(
        str(entry.get("group", "")),
        str(entry.get("kind", "")),
        str(entry.get("namespace", "")),
        str(entry.get("name", "")),
    )


class ClusterReconciler:
    """Brings one cluster's addons to the state its class's release asks for."""

    def __init__(
        self,
        kube: Kube,
        options: AddonOptions,
        clients: WorkloadClients,
        releases: Callable[[], tuple[ReleaseCatalog | None, str]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.kube = kube
        self.options = options
        self.clients = clients
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
            addon = self._ensure_addon(cluster)
        except ApiError as exc:
            self.log.error("cannot write ClusterAddon", extra={"cluster": cluster.key})
            return Result(cluster.key, False, 0.0, f"ClusterAddon: {exc}", error=True)
        state = AddonState.of(addon)
        run = _Run(cluster, state, catalog, revision, addon)
        run.records = {_record_key(r): dict(r) for r in state.resources}
        status = run.status
        status.stages = [dict(s) for s in state.stages]
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
            self._fail(status, exc)
            result = Result(cluster.key, False, 0.0, str(exc), error=True)
        except ApiError as exc:
            status.set("HelmChartApplied", False, "WorkloadRequestFailed", str(exc))
            result = Result(cluster.key, False, 0.0, str(exc), error=True)
        self._upgrade_timeout(cluster, addon, status)
        status.resources = list(run.records.values())
        if not self._may_write():
            return Result(cluster.key, False, self.options.tick, "lost leadership")
        try:
            write(self.kube, self._fresh(cluster) or addon, status)
        except ApiError as exc:
            return Result(cluster.key, False, 0.0, f"ClusterAddon status: {exc}", error=True)
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
            events.emit(self.kube, run.addon, events.FAILED, result.message, events.WARNING)

    def _fail(self, status: AddonStatus, exc: AddonError) -> None:
        if isinstance(exc, WorkloadUnreachableError):
            status.set("ClusterReady", False, exc.reason, str(exc))
        elif isinstance(exc, ReleaseMissingError):
            status.set("ClusterStackReleaseAvailable", False, exc.reason, str(exc))
        elif isinstance(exc, ChartError):
            if exc.reason == "HelmChartMissing":
                status.set("HelmChartFound", False, exc.reason, str(exc))
            else:
                status.set("HelmChartTemplated", False, exc.reason, str(exc))
        else:
            status.set("HelmChartApplied", False, exc.reason, str(exc))
        status.ready = False

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
        run.context = self._context(cluster)
        run.workload = Workload(kube, may_write=self._may_write)
        if plan.action == STEADY:
            return addon, self._steady(run, new)
        if plan.action == SWITCH:
            addon = self._record(run, plan, new, state.stage_annotation)
            return addon, self._steady(run, new, note=plan.reason)
        return self._run_stages(addon, run, plan, new, old)

    def _run_stages(
        self,
        addon: dict[str, Any],
        run: _Run,
        plan: Plan,
        new: ReleaseBundle,
        old: ReleaseBundle | None,
    ) -> tuple[dict[str, Any], Result]:
        cluster, state, status = run.cluster, run.state, run.status
        workload, context = run.target()
        wait = waits.state_of(addon)
        if state.run != plan.run or state.hook != plan.hook:
            self.log.info("addon run starts", extra={"cluster": cluster.key, "reason": plan.reason})
            addon = self._apply_spec(
                cluster,
                state.cluster_stack,
                state.version,
                plan.hook,
                stage=state.stage_annotation,
                run_key=plan.run,
            )
            wait = None
            if plan.action == UPGRADE:
                events.emit(self.kube, addon, events.UPGRADE_STARTED, plan.reason)
        status.ready = False
        if wait is not None and waits.blocked(wait, plan.run, run.revision):
            status.stages = _stages(plan, plan.phases)
            return addon, self._timed_out(run, wait)

        def on_phase(phases: list[str]) -> None:
            status.stages = _stages(plan, phases)
            if any(p in (WAITING_PRE, WAITING_POST) for p in phases):
                return  # the pass ends here; its final write carries the condition with it
            with contextlib.suppress(ApiError):
                status.resources = list(run.records.values())
                write(self.kube, self._fresh(cluster) or addon, status)

        status.stages = _stages(plan, plan.phases)
        engine = StageEngine(workload, context, new, old, on_phase)
        progress = engine.run(plan.stages, list(plan.phases))
        status.stages = _stages(plan, progress.phases)
        self._merge(run, progress)
        self._report(status, progress)
        if progress.failed:
            return addon, Result(cluster.key, False, 0.0, "; ".join(progress.failed), error=True)
        if not progress.done:
            return self._waiting(addon, run, plan, progress, wait)
        if plan.cleanup:
            errors = self._cleanup(run, plan, new, old)
            if errors:
                status.set("HelmChartDeleted", False, "FailedToDeleteObjects", "; ".join(errors))
                return addon, Result(cluster.key, False, 0.0, "; ".join(errors), error=True)
        stage = CREATED if plan.action == INSTALL else UPGRADED
        addon = self._record(run, plan, new, stage)
        status.ready = True
        status.set("HelmChartApplied", True)
        self.log.info("addons applied", extra={"cluster": cluster.key, "class": plan.target_class})
        if plan.action == UPGRADE:
            events.emit(self.kube, addon, events.UPGRADE_DONE, f"{plan.reason}: done")
        else:
            events.emit(self.kube, addon, events.APPLIED, f"addons of {new.name} applied")
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
        cluster, state = run.cluster, run.state
        index = next(
            (i for i, p in enumerate(progress.phases) if p in (WAITING_PRE, WAITING_POST)), None
        )
        if index is None:  # not waiting on a condition (cannot happen; be safe)
            return addon, Result(
                cluster.key, False, self.options.waiting_interval, progress.waiting
            )
        now = self.clock()
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
            addon = self._apply_spec(
                cluster,
                state.cluster_stack,
                state.version,
                plan.hook,
                stage=state.stage_annotation,
                run_key=plan.run,
                wait=current.encode(),
            )
            run.addon = addon
        if timed_out:
            message = current.describe(self.options.stage_timeout)
            self.log.warning("stage timed out", extra={"cluster": cluster.key, "error": message})
            events.emit(self.kube, addon, events.FAILED, message, events.WARNING)
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

    def _steady(self, run: _Run, bundle: ReleaseBundle, note: str = "") -> Result:
        """Re-apply what differs from the applied release (drift correction)."""
        cluster, status = run.cluster, run.status
        workload, context = run.target()
        hook = run.state.last_hook
        objects = [
            o for name in bundle.applied_charts(hook) for o in charts.render(bundle, name, context)
        ]
        status.set("HelmChartFound", True)
        status.set("HelmChartTemplated", True)
        records = workload.apply(objects)
        run.records = {oid: r.status() for oid, r in records.items()}
        errors = [f"apply {r.id}: {r.error}" for r in records.values() if r.error]
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
        for oid, record in progress.records.items():
            run.records[oid] = record.status()

    def _report(self, status: AddonStatus, progress: Progress) -> None:
        if progress.missing_charts:
            status.set(
                "HelmChartFound",
                False,
                "HelmChartMissing",
                f"stages name charts the release lacks: {', '.join(progress.missing_charts)}",
            )
        else:
            status.set("HelmChartFound", True)
        status.set("HelmChartTemplated", True)
        if progress.cel_error:
            status.set("EvaluatedCEL", False, progress.cel_reason, progress.cel_error)
        elif progress.waiting:
            status.set("EvaluatedCEL", False, "WaitingForCondition", progress.waiting)
        else:
            status.set("EvaluatedCEL", True)
        if progress.failed:
            status.set(
                "HelmChartApplied", False, "FailedToApplyObjects", "; ".join(progress.failed)
            )
        elif not progress.done:
            status.set(
                "HelmChartApplied",
                False,
                "StagesInProgress",
                progress.waiting or "stages in progress",
            )

    def _cleanup(
        self, run: _Run, plan: Plan, new: ReleaseBundle, old: ReleaseBundle | None
    ) -> list[str]:
        """Delete what the old release (or our records) had and the new release has not."""
        state = run.state
        workload, context = run.target()
        keep = workload.ids(
            o for name in new.applied_charts(plan.hook) for o in charts.render(new, name, context)
        )
        before: set[ObjectId] = set(run.records)
        if old is not None:
            for name in old.applied_charts(state.last_hook):
                with contextlib.suppress(ChartError):
                    before |= workload.ids(charts.render(old, name, context))
        deleted, errors = workload.delete(before - keep)
        for oid in deleted:
            run.records.pop(oid, None)
        for oid in before - keep:
            run.records.pop(oid, None)
        if not errors:
            run.status.set("HelmChartDeleted", True)
        return errors

    # ------------------------------------------------------------------ ClusterAddon
    def _fresh(self, cluster: ClusterView) -> dict[str, Any] | None:
        return self.kube.get_or_none(
            clusteraddon.resource(self.kube), cluster.namespace, cluster.addon_name
        )

    def _ensure_addon(self, cluster: ClusterView) -> dict[str, Any]:
        live = self._fresh(cluster)
        if live is not None:
            return live
        return self._apply_spec(cluster, "", "", "", stage="", run_key="")

    def _apply_spec(
        self,
        cluster: ClusterView,
        cluster_stack: str,
        version: str,
        hook: str,
        *,
        stage: str,
        run_key: str,
        wait: str = "",
    ) -> dict[str, Any]:
        annotations = {RUN_ANNOTATION: run_key}
        if stage:
            annotations[STAGE_ANNOTATION] = stage
        if wait:
            annotations[waits.WAIT_ANNOTATION] = wait
        body = clusteraddon.controller_body(
            cluster,
            cluster_stack=cluster_stack,
            version=version,
            hook=hook,
            annotations=annotations,
        )
        return self.kube.apply(clusteraddon.resource(self.kube), body)

    def _record(self, run: _Run, plan: Plan, new: ReleaseBundle, stage: str) -> dict[str, Any]:
        """The run is complete: record the class and addon version, clear the hook."""
        return self._apply_spec(
            run.cluster,
            plan.target_class,
            new.addon_version.dot,
            "",
            stage=stage,
            run_key=plan.run or run.state.run,
        )

    def _context(self, cluster: ClusterView) -> ClusterContext:
        return ClusterContext(
            cluster.body,
            self._referenced(cluster.control_plane_ref),
            self._referenced(cluster.infrastructure_ref),
        )

    def _referenced(self, ref: ObjectRef | None) -> dict[str, Any] | None:
        if ref is None:
            return None
        try:
            if ref.version:
                resource = self.kube.resource(
                    f"{ref.group}/{ref.version}" if ref.group else ref.version, ref.kind
                )
            else:
                resource = self.kube.resource_for_group(ref.group, ref.kind)
            return self.kube.get_or_none(resource, ref.namespace, ref.name)
        except ApiError:
            return None

    def _upgrade_timeout(
        self, cluster: ClusterView, addon: dict[str, Any], status: AddonStatus
    ) -> None:
        state = gate.state_of(addon)
        if state is None or state.target != cluster.class_name:
            return
        decision = gate.decide(state, addon, self.clock(), self.options.upgrade_timeout)
        if decision.timed_out and not status.ready:
            status.warn("UpgradeTimedOut", "UpgradeProceededWithoutAddons", decision.message)


def _stages(plan: Plan, phases: list[str]) -> list[dict[str, Any]]:
    return [
        {"name": s.name, "action": s.action, "phase": phases[i] if i < len(phases) else PENDING}
        for i, s in enumerate(plan.stages)
    ]


__all__ = ["AddonOptions", "ClusterReconciler", "Result"]
