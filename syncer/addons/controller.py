"""The addon controller: every Cluster of one of our classes gets its ClusterAddon and addons.

Each cluster reconciles on its own (a worker pool, per-cluster backoff): an unreachable
workload cluster or a broken chart fails only that cluster's ClusterAddon, with a condition
saying why, and is retried; other clusters go on. A watch on Clusters wakes the loop, so a new
or changed Cluster is reconciled at once; the list is re-read every ``resync`` seconds besides.

The releases can be switched while running (:meth:`AddonController.set_releases`, e.g. to the
``releases/`` of the revision the sync loop just applied): each reconcile works with the catalog
it started with.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from syncer import logs
from syncer.addons import charts, clusteraddon, events, gate, waits
from syncer.addons.charts import ClusterContext
from syncer.addons.cluster import CLUSTER_API_VERSION, ClusterView, ObjectRef, view
from syncer.addons.engine import (
    DONE,
    PENDING,
    WAITING_POST,
    WAITING_PRE,
    Progress,
    Record,
    StageEngine,
    Workload,
)
from syncer.addons.errors import (
    AddonError,
    ChartError,
    ReleaseMissingError,
    WorkloadUnreachableError,
)
from syncer.addons.plan import (
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
from syncer.addons.releases import ReleaseBundle, ReleaseCatalog
from syncer.addons.status import AddonStatus, write
from syncer.addons.workload import WorkloadClients
from syncer.drift import DriftWatch
from syncer.errors import ApiError
from syncer.kube import Kube
from syncer.objects import ObjectId


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
class _Schedule:
    due: float = 0.0
    failures: int = 0
    running: bool = False


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


class AddonController:
    """``reconcile_once()`` for one pass over all clusters; ``run(stop)`` to keep going."""

    def __init__(
        self,
        kube: Kube,
        releases_dir: Path | None,
        options: AddonOptions | None = None,
        clock: Callable[[], float] = time.time,
        *,
        revision: str | None = None,
    ) -> None:
        """``releases_dir`` None: no releases yet — nothing is reconciled until
        :meth:`set_releases`. ``revision`` names the releases (default: the directory)."""
        self.kube = kube
        self.catalog: ReleaseCatalog | None = None
        self.revision = ""
        self.options = options or AddonOptions()
        self.clock = clock
        self.clients = WorkloadClients(kube)
        self.log = logs.get()
        self._wake = threading.Event()
        self._schedule: dict[str, _Schedule] = {}
        self._lock = threading.Lock()
        self._failures: dict[str, str] = {}  # cluster → last failure reported as an Event
        if releases_dir is not None:
            self.set_releases(releases_dir, revision)

    def set_releases(self, releases_dir: Path, revision: str | None = None) -> bool:
        """Use the release bundles of ``releases_dir`` from now on (an atomic swap: running
        reconciles finish with the catalog they started with). True when something changed."""
        revision = revision or _revision_of(releases_dir)
        current = self.catalog
        if current is not None and current.directory == releases_dir and self.revision == revision:
            return False
        # one assignment each; readers take (catalog, revision) under the lock
        with self._lock:
            self.catalog = ReleaseCatalog(releases_dir)
            self.revision = revision
        logs.get().info(
            "addon releases", extra={"releases": str(releases_dir), "revision": revision}
        )
        self.wake()
        return True

    def _releases(self) -> tuple[ReleaseCatalog | None, str]:
        with self._lock:
            return self.catalog, self.revision

    # ------------------------------------------------------------------ driving
    def clusters(self) -> list[ClusterView]:
        """Clusters (any namespace) whose class is one of our releases."""
        catalog, _ = self._releases()
        if catalog is None:
            return []
        resource = self.kube.resource(CLUSTER_API_VERSION, "Cluster")
        found = [view(c) for c in self.kube.list(resource, namespace=self.options.namespace).items]
        return [c for c in found if catalog.has_class(c.class_name) and not c.deleting]

    def reconcile_once(self) -> dict[str, Result]:
        """Reconcile every cluster once, in parallel; one cluster's trouble is its own."""
        clusters = self.clusters()
        with ThreadPoolExecutor(max_workers=max(1, self.options.workers)) as pool:
            results = list(pool.map(self.reconcile_cluster, clusters))
        return {r.cluster: r for r in results}

    def wake(self, key: str | None = None) -> None:
        """Reconcile ``namespace/name`` (or every cluster) now, e.g. after a hook call."""
        with self._lock:
            for k, sched in self._schedule.items():
                if key is None or k == key:
                    sched.due = 0.0
        self._wake.set()

    def _on_cluster_event(self, kind: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        namespace = str(meta.get("namespace") or "")
        if self.options.namespace and namespace != self.options.namespace:
            return
        self.wake(f"{namespace}/{meta.get('name')}")

    def _start_watch(self, watch: DriftWatch) -> bool:
        try:
            watch.watch(self.kube.resource(CLUSTER_API_VERSION, "Cluster"), None)
        except ApiError:  # the Cluster CRD is not installed yet: retried on the next list
            return False
        return True

    def _may_run(self) -> bool:
        allowed = self.options.may_run
        return self.catalog is not None and (allowed is None or allowed())

    def run(self, stop: threading.Event) -> None:
        """Reconcile clusters when due until ``stop`` is set.

        While ``options.may_run`` says no (e.g. another replica leads) or no releases are set,
        nothing is reconciled; running reconciles finish."""
        pool = ThreadPoolExecutor(max_workers=max(1, self.options.workers))
        last_list = 0.0
        clusters: dict[str, ClusterView] = {}
        watch = DriftWatch(self.kube, self._on_cluster_event, stop)
        watching = False
        active = False
        list_error = ""
        try:
            while not stop.is_set():
                if not self._may_run():
                    if active:
                        self.log.info("addon controller paused")
                        active = False
                        clusters = {}
                    self._wake.wait(self.options.tick)
                    self._wake.clear()
                    continue
                if not active:
                    self.log.info("addon controller running")
                    active = True
                    last_list = 0.0
                now = time.monotonic()
                period = self.options.resync if watching else self.options.tick
                if now - last_list >= period or self._wake.is_set():
                    self._wake.clear()
                    if self.options.watch and not watching:
                        watching = self._start_watch(watch)
                    try:
                        clusters = {c.key: c for c in self.clusters()}
                        list_error = ""
                    except ApiError as exc:
                        if str(exc) != list_error:
                            self.log.error("cannot list Clusters", extra={"error": str(exc)})
                        list_error = str(exc)
                    last_list = now
                with self._lock:
                    for key in list(self._schedule):
                        if key not in clusters and not self._schedule[key].running:
                            del self._schedule[key]
                            self.clients.forget(key)
                    due = []
                    for key, cluster in clusters.items():
                        sched = self._schedule.setdefault(key, _Schedule())
                        if not sched.running and sched.due <= now:
                            sched.running = True
                            due.append(cluster)
                for cluster in due:
                    future = pool.submit(self.reconcile_cluster, cluster)
                    future.add_done_callback(self._done_callback(cluster.key))
                self._wake.wait(self.options.tick)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            self.clients.close()

    def _done_callback(self, key: str) -> Callable[[Future[Result]], None]:
        def done(future: Future[Result]) -> None:
            try:
                result = future.result()
            except Exception as exc:  # a bug must not stop the other clusters
                self.log.exception("reconcile crashed", extra={"cluster": key})
                result = Result(key, False, 0.0, str(exc), error=True)
            with self._lock:
                sched = self._schedule.setdefault(key, _Schedule())
                sched.running = False
                if result.error:
                    sched.failures += 1
                    delay = min(
                        self.options.backoff_cap,
                        self.options.backoff_base * 2 ** (sched.failures - 1),
                    )
                    delay = delay / 2 + random.random() * delay / 2
                else:
                    sched.failures = 0
                    delay = result.requeue_after
                sched.due = time.monotonic() + delay

        return done

    # ------------------------------------------------------------------ one cluster
    def reconcile_cluster(self, cluster: ClusterView) -> Result:
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
        except AddonError as exc:
            self._fail(status, exc)
            result = Result(cluster.key, False, 0.0, str(exc), error=True)
        except ApiError as exc:
            status.set("HelmChartApplied", False, "WorkloadRequestFailed", str(exc))
            result = Result(cluster.key, False, 0.0, str(exc), error=True)
        self._upgrade_timeout(cluster, addon, status)
        status.resources = list(run.records.values())
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
        run.workload = Workload(kube)
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


def _revision_of(releases_dir: Path) -> str:
    """A name for releases without a git revision: the directory and its render.lock digest
    (a re-render is a new revision)."""
    lock = releases_dir.parent / "render.lock"
    try:
        digest = hashlib.sha256(lock.read_bytes()).hexdigest()[:12]
    except OSError:
        return str(releases_dir)
    return f"{releases_dir}@sha256:{digest}"


def _stages(plan: Plan, phases: list[str]) -> list[dict[str, Any]]:
    return [
        {"name": s.name, "action": s.action, "phase": phases[i] if i < len(phases) else PENDING}
        for i, s in enumerate(plan.stages)
    ]


__all__ = ["DONE", "AddonController", "AddonOptions", "Record", "Result"]
