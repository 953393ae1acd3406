"""The sync loop: fetch, reconcile, sleep (poll interval with jitter), wake early on a webhook,
a file change or a watch event; exponential backoff after failures; leadership; graceful stop.

The loop is given its client, source and elector (:class:`~csops.syncer.application.Application`
builds them from the settings); :func:`sync_once` is one pass without the loop.
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Callable
from typing import Any

from csops.syncer import gitauth, logs, stackstatus
from csops.syncer.changeset import Action
from csops.syncer.clock import SYSTEM, Clock, backoff
from csops.syncer.drift import DriftWatch
from csops.syncer.errors import (
    ApiError,
    FetchError,
    LeadershipLostError,
    RevisionError,
    SyncError,
)
from csops.syncer.inventory import PART_OF_LABEL, InventoryStore
from csops.syncer.kube import Kube
from csops.syncer.leader import LeaderElector
from csops.syncer.metrics import ErrorKind, Metrics
from csops.syncer.reconcile import Reconciler, SyncResult
from csops.syncer.repair import DriftRepair
from csops.syncer.settings import Settings
from csops.syncer.source import Revision, Source, open_source
from csops.syncer.usage import CLUSTER_GROUP

DEBOUNCE = 0.1
LEADERSHIP_POLL = 0.1


def open_settings_source(settings: Settings, kube: Kube | None) -> Source:
    """The source ``settings`` name, with its git credentials (a Secret read through ``kube``)."""
    credentials = gitauth.provider(settings.git, kube, settings.inventory_namespace)
    return open_source(
        settings.repo, settings.branch, settings.path, settings.cache_dir, credentials
    )


def sync_once(
    settings: Settings,
    kube: Kube | None = None,
    on_synced: Callable[[Revision], None] | None = None,
) -> SyncResult:
    """Fetch the source and run one pass; raises :class:`SyncError` on failure.

    ``on_synced`` is called with the revision when the pass succeeded."""
    own = kube is None
    kube = kube or Kube.from_kubeconfig(settings.kubeconfig, context=settings.context)
    try:
        source = open_settings_source(settings, kube)
        revision = source.fetch()
        store = InventoryStore(kube, settings.name, settings.inventory_namespace)
        result = Reconciler(kube, store, settings.options).sync(revision)
        if result.ok and on_synced is not None:
            on_synced(revision)
        return result
    finally:
        if own:
            kube.close()


class Controller:
    """Keeps one cluster reconciled toward one source until :attr:`stop` is set."""

    def __init__(
        self,
        settings: Settings,
        kube: Kube,
        source: Source,
        *,
        elector: LeaderElector | None = None,
        metrics: Metrics | None = None,
        clock: Clock = SYSTEM,
    ) -> None:
        self.settings = settings
        self.kube = kube
        self.source = source
        self.elector = elector
        self.metrics = metrics or Metrics()
        self.clock = clock
        self.log = logs.get()
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.newer = threading.Event()  # a new revision is likely: cancels health waits
        self.full = threading.Event()  # the wake-up needs a full pass, not only drift repair
        self.last_result: SyncResult | None = None
        self.last_error: str | None = None
        # called with the revision after each successful pass (e.g. the addon controller)
        self.on_synced: list[Callable[[Revision], None]] = []
        self.store = InventoryStore(kube, settings.name, settings.inventory_namespace)
        self.reconciler = Reconciler(
            kube,
            self.store,
            settings.options,
            cancelled=lambda: self.newer.is_set() or self.stop.is_set(),
            clock=clock,
            may_write=self.is_leader,
            keep_parsed=True,
        )
        self.drift = DriftWatch(kube, self._on_watch, self.stop)
        self.repair = DriftRepair(self.reconciler.engine, clock)

    def is_leader(self) -> bool:
        """Whether this replica may write (always, without an elector)."""
        return self.elector is None or self.elector.is_leader()

    def request_sync(self, *, new_revision: bool = True) -> None:
        if new_revision:
            self.newer.set()
        self.full.set()
        self.wake.set()

    def _on_watch(self, kind: str, obj: dict[str, Any]) -> None:
        """A watched object changed: one of ours is repaired alone when the last pass applied
        it; a Cluster or a ClusterStack nobody manages wakes a full pass when it matters."""
        meta = obj.get("metadata") or {}
        owner = (meta.get("labels") or {}).get(PART_OF_LABEL)
        if owner == self.store.id and self.repair.note(kind, obj):
            self.wake.set()
            return
        if owner is not None and owner != self.store.id:
            return  # another csops's ClusterStack: neither ours nor a stranger to mark
        if obj.get("kind") == "Cluster" and not self._clusters_matter():
            return
        self.full.set()
        self.wake.set()

    def _clusters_matter(self) -> bool:
        """Whether a Cluster's change can change a pass: the last one failed, or kept objects
        a Cluster used (a Cluster that stops using them lets them be pruned)."""
        last = self.last_result
        return last is None or not last.ok or bool(last.prune and last.prune.kept_in_use)

    def run(self) -> None:
        """Sync until :attr:`stop` is set: while this replica leads, after every wake-up."""
        failures = 0
        was_leader = False
        while not self.stop.is_set():
            leader = self.is_leader()
            self.metrics.leader.set(1 if leader else 0)
            if not leader:
                if was_leader:
                    self.log.warning("lost leadership; not writing")
                    was_leader = False
                self.stop.wait(LEADERSHIP_POLL)
                continue
            if self.elector is not None and not was_leader:
                self.log.info("became leader", extra={"identity": self.settings.identity})
                was_leader = True
            self.wake.clear()
            self.newer.clear()
            self.full.clear()
            delay = self._pass()
            if self.last_error is None:
                failures = 0
            else:
                failures += 1
                delay = backoff(failures, cap=self.settings.max_backoff)
            self._between_passes(delay)

    def _between_passes(self, delay: float) -> None:
        """Wait ``delay`` seconds or until a wake-up needs a full pass; drift on objects of
        the last pass is repaired meanwhile, object by object."""
        deadline = self.clock.monotonic() + delay
        while not self.stop.is_set():
            if not self.wake.wait(max(0.0, deadline - self.clock.monotonic())):
                return
            self.stop.wait(DEBOUNCE)
            if self.full.is_set() or not self.is_leader():
                return
            self.wake.clear()
            self._repair()
            if self.full.is_set() or self.clock.monotonic() >= deadline:
                return

    def _repair(self) -> None:
        """Apply back the objects watch events showed drifted; a failure asks for a pass."""
        try:
            changes = self.repair.repair()
        except SyncError as exc:
            self.log.warning("drift repair failed; running a pass", extra={"error": str(exc)})
            self.full.set()
            return
        changed = [c for c in changes if c.changed]
        failed = [c for c in changes if c.action == Action.FAILED]
        if changed:
            self.metrics.applied.inc(len(changed))
            self.metrics.drifted.inc(len(changed))
            self.log.info(
                "drift corrected",
                extra={"drifted": ",".join(sorted(str(c.id) for c in changed))},
            )
        if self.repair.status_errors:
            self.metrics.error(ErrorKind.STATUS, len(self.repair.status_errors))
        if failed:
            self.log.warning(
                "drift repair failed; running a pass",
                extra={"error": "; ".join(f"{c.id}: {c.error}" for c in failed)},
            )
            self.full.set()

    def _pass(self) -> float:
        """One pass: fetch, reconcile, follow what it applied, publish; the delay until the
        next one."""
        settings = self.settings
        started = self.clock.monotonic()
        interval = settings.interval * (1 + random.uniform(-settings.jitter, settings.jitter))
        self.repair.begin_pass()
        try:
            revision = self._fetch()
            result = self.reconciler.sync(revision)
        except LeadershipLostError as exc:
            self.repair.end_pass(None, ())
            self.log.warning("stopped writing mid-pass", extra={"error": str(exc)})
            return 0.0  # the loop waits for leadership again
        except SyncError as exc:
            self.repair.end_pass(None, ())
            self.metrics.error(error_kind(exc))
            self.last_error = str(exc)
            self.log.error("sync failed", extra={"error": str(exc)})
            return interval
        finally:
            self.metrics.duration.observe(self.clock.monotonic() - started)
        synced = self.reconciler.last_objects if result.ok else None
        self.repair.end_pass(synced, result.outcomes)
        if settings.drift_watch:
            self._watch_drift()
        self._publish(result, revision)
        return interval

    def _fetch(self) -> Revision:
        revision = self.source.fetch()
        if revision.stale_error:
            self.metrics.error(ErrorKind.FETCH)
            self.log.warning(
                "source unreachable; keeping last good revision",
                extra={"revision": revision.name, "error": revision.stale_error},
            )
        return revision

    def _watch_drift(self) -> None:
        """Watch what the passes applied, every Cluster (for in-use protection) and every
        ClusterStack (one applied by hand is marked).

        Watches start (their first list done) before the pass is published, so a change made by
        anyone who waited for this pass is streamed, never missed.
        """
        for resource in sorted(self.reconciler.managed, key=lambda r: (r.group, r.kind)):
            self.drift.watch(resource, f"{PART_OF_LABEL}={self.store.id}")
        for group, kind in ((CLUSTER_GROUP, "Cluster"), (stackstatus.GROUP, "ClusterStack")):
            with contextlib.suppress(SyncError):
                self.drift.watch(self.kube.resource_for_group(group, kind), None)

    def _publish(self, result: SyncResult, revision: Revision) -> None:
        """Record the pass: metrics, the log, and the listeners of a good pass."""
        self.last_result = result
        self._count(result)
        if not result.ok:
            self.last_error = "; ".join(result.problems())
            self.log.error(
                "sync incomplete", extra={**pass_fields(result), "error": self.last_error}
            )
            return
        self.last_error = None
        self.metrics.last_success.set(self.clock.time())
        level = self.log.info if result.changed or result.pruned else self.log.debug
        level("synced", extra=pass_fields(result))
        for callback in self.on_synced:
            try:
                callback(revision)
            except Exception:  # a listener's bug must not stop the sync loop
                self.log.exception("on_synced callback failed")

    def _count(self, result: SyncResult) -> None:
        """The pass in the metrics."""
        metrics = self.metrics
        metrics.set_revision(result.revision)
        metrics.managed.set(result.managed)
        metrics.applied.inc(len(result.changed))
        metrics.drifted.inc(len(result.drifted))
        metrics.pruned.inc(len(result.pruned))
        metrics.kept.set(len(result.prune.kept_in_use) if result.prune else 0)
        metrics.set_stacks(result.stacks)
        for kind, happened in (
            (ErrorKind.APPLY, bool(result.failed)),
            (ErrorKind.PRUNE, bool(result.prune_errors)),
            (ErrorKind.HEALTH, result.health_error is not None),
        ):
            if happened:
                metrics.error(kind)
        if result.status_errors:
            metrics.error(ErrorKind.STATUS, len(result.status_errors))


def error_kind(exc: SyncError) -> ErrorKind:
    """The ``csops_sync_errors_total`` kind of a pass that raised ``exc``."""
    if isinstance(exc, RevisionError):
        return ErrorKind.REVISION
    if isinstance(exc, FetchError):
        return ErrorKind.FETCH
    return ErrorKind.API if isinstance(exc, ApiError) else ErrorKind.APPLY


def pass_fields(result: SyncResult) -> dict[str, object]:
    """The log fields of a pass: revision, summary, duration, and what drifted."""
    fields: dict[str, object] = {
        "revision": result.revision,
        "result": result.summary(),
        "seconds": round(result.duration, 3),
    }
    if result.drifted:
        fields["drifted"] = ",".join(sorted(str(oid) for oid in result.drifted))
    return fields
