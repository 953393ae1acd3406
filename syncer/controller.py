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

from csops.syncer import logs
from csops.syncer.clock import SYSTEM, Clock, backoff
from csops.syncer.drift import DriftWatch
from csops.syncer.errors import LeadershipLostError, RevisionError, SyncError
from csops.syncer.inventory import PART_OF_LABEL, InventoryStore
from csops.syncer.kube import Kube
from csops.syncer.leader import LeaderElector
from csops.syncer.metrics import Metrics
from csops.syncer.reconcile import Reconciler, SyncResult
from csops.syncer.settings import Settings
from csops.syncer.source import Revision, Source, open_source
from csops.syncer.usage import CLUSTER_GROUP

DEBOUNCE = 0.1
LEADERSHIP_POLL = 0.1


def sync_once(
    settings: Settings,
    kube: Kube | None = None,
    on_synced: Callable[[Revision], None] | None = None,
) -> SyncResult:
    """Fetch the source and run one pass; raises :class:`SyncError` on failure.

    ``on_synced`` is called with the revision when the pass succeeded."""
    own = kube is None
    kube = kube or Kube.from_kubeconfig(settings.kubeconfig)
    try:
        source = open_source(settings.repo, settings.branch, settings.path, settings.cache_dir)
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
        )
        self.drift = DriftWatch(kube, self._on_watch, self.stop)

    def is_leader(self) -> bool:
        """Whether this replica may write (always, without an elector)."""
        return self.elector is None or self.elector.is_leader()

    def request_sync(self, *, new_revision: bool = True) -> None:
        if new_revision:
            self.newer.set()
        self.wake.set()

    def _on_watch(self, kind: str, obj: dict[str, Any]) -> None:
        self.wake.set()

    def ready(self) -> bool:
        return self.last_result is not None and self.last_error is None

    def run(self) -> None:
        """Sync until :attr:`stop` is set: while this replica leads, after every wake-up."""
        failures = 0
        was_leader = False
        while not self.stop.is_set():
            if not self.is_leader():
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
            delay = self._pass()
            if self.last_error is None:
                failures = 0
            else:
                failures += 1
                delay = backoff(failures, cap=self.settings.max_backoff)
            if self.wake.wait(delay):
                self.stop.wait(DEBOUNCE)

    def _pass(self) -> float:
        """One pass: fetch, reconcile, follow what it applied, publish; the delay until the
        next one."""
        settings = self.settings
        started = self.clock.monotonic()
        interval = settings.interval * (1 + random.uniform(-settings.jitter, settings.jitter))
        try:
            revision = self._fetch()
            result = self.reconciler.sync(revision)
        except LeadershipLostError as exc:
            self.log.warning("stopped writing mid-pass", extra={"error": str(exc)})
            return 0.0  # the loop waits for leadership again
        except SyncError as exc:
            kind = "revision" if isinstance(exc, RevisionError) else type(exc).__name__
            self.metrics.errors.labels(kind).inc()
            self.last_error = str(exc)
            self.log.error("sync failed", extra={"error": str(exc)})
            return interval
        finally:
            self.metrics.duration.observe(self.clock.monotonic() - started)
        if settings.drift_watch:
            self._watch_drift()
        self._publish(result, revision)
        return interval

    def _fetch(self) -> Revision:
        revision = self.source.fetch()
        if revision.stale_error:
            self.log.warning(
                "source unreachable; keeping last good revision",
                extra={"revision": revision.name, "error": revision.stale_error},
            )
        return revision

    def _watch_drift(self) -> None:
        """Watch what the passes applied, and the Clusters (for in-use protection).

        Watches start (their first list done) before the pass is published, so a change made by
        anyone who waited for this pass is streamed, never missed.
        """
        for resource in sorted(self.reconciler.managed, key=lambda r: (r.group, r.kind)):
            self.drift.watch(resource, f"{PART_OF_LABEL}={self.store.id}")
        with contextlib.suppress(SyncError):
            self.drift.watch(self.kube.resource_for_group(CLUSTER_GROUP, "Cluster"), None)

    def _publish(self, result: SyncResult, revision: Revision) -> None:
        """Record the pass: metrics, the log, readiness, and the listeners of a good pass."""
        self.last_result = result
        if result.status_errors:
            self.metrics.errors.labels("status").inc(len(result.status_errors))
        self.metrics.set_revision(result.revision)
        self.metrics.applied.inc(len(result.changed))
        self.metrics.pruned.inc(len(result.pruned))
        self.metrics.kept.set(len(result.prune.kept_in_use) if result.prune else 0)
        summary = {"revision": result.revision, "result": result.summary()}
        if not result.ok:
            self.metrics.errors.labels("apply").inc()
            self.last_error = "; ".join(
                [f"{o.id}: {o.error}" for o in result.failed]
                + [f"prune {k}: {v}" for k, v in result.prune_errors.items()]
                + ([result.health_error] if result.health_error else [])
            )
            self.log.error("sync incomplete", extra={**summary, "error": self.last_error})
            return
        self.last_error = None
        level = self.log.info if result.changed or result.pruned else self.log.debug
        level("synced", extra={**summary, "seconds": round(result.duration, 3)})
        for callback in self.on_synced:
            try:
                callback(revision)
            except Exception:  # a listener's bug must not stop the sync loop
                self.log.exception("on_synced callback failed")
