"""The sync loop: fetch, reconcile, sleep (poll interval with jitter), wake early on a webhook,
a file change or a watch event; exponential backoff after failures; leader election; graceful
stop."""

from __future__ import annotations

import contextlib
import os
import random
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from csops.syncer import logs
from csops.syncer.clock import SYSTEM, Clock, backoff
from csops.syncer.drift import DriftWatch
from csops.syncer.endpoints import Endpoints
from csops.syncer.errors import LeadershipLostError, RevisionError, SyncError
from csops.syncer.inventory import PART_OF_LABEL, InventoryStore
from csops.syncer.kube import Kube
from csops.syncer.leader import LeaderElector
from csops.syncer.metrics import Metrics
from csops.syncer.reconcile import Reconciler, SyncOptions, SyncResult
from csops.syncer.source import DEFAULT_PATH, GitSource, LocalSource, Revision, open_source
from csops.syncer.usage import CLUSTER_GROUP
from csops.syncer.watcher import PathWatcher

DEBOUNCE = 0.1


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "csops" / "sync"


@dataclass
class SyncConfig:
    repo: str
    branch: str | None = None
    path: str = DEFAULT_PATH
    kubeconfig: Path | None = None
    name: str = "csops"
    inventory_namespace: str = "csops-system"
    options: SyncOptions = field(default_factory=SyncOptions)
    interval: float = 60.0
    jitter: float = 0.1
    max_backoff: float = 300.0
    cache_dir: Path = field(default_factory=default_cache_dir)
    leader_elect: bool = False
    lease_duration: float = 15.0
    identity: str = field(default_factory=lambda: f"{socket.gethostname()}_{os.getpid()}")
    listen: tuple[str, int] | None = None
    webhook_secret: bytes | None = None
    drift_watch: bool = True


def sync_once(
    config: SyncConfig,
    kube: Kube | None = None,
    on_synced: Callable[[Revision], None] | None = None,
) -> SyncResult:
    """Fetch the source and run one pass; raises :class:`SyncError` on failure.

    ``on_synced`` is called with the revision when the pass succeeded."""
    own = kube is None
    kube = kube or Kube.from_kubeconfig(config.kubeconfig)
    try:
        source = open_source(config.repo, config.branch, config.path, config.cache_dir)
        revision = source.fetch()
        store = InventoryStore(kube, config.name, config.inventory_namespace)
        result = Reconciler(kube, store, config.options).sync(revision)
        if result.ok and on_synced is not None:
            on_synced(revision)
        return result
    finally:
        if own:
            kube.close()


class Controller:
    def __init__(
        self, config: SyncConfig, metrics: Metrics | None = None, *, clock: Clock = SYSTEM
    ) -> None:
        self.config = config
        self.clock = clock
        self.metrics = metrics or Metrics()
        self.log = logs.get()
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.newer = threading.Event()  # a new revision is likely: cancels health waits
        self.last_result: SyncResult | None = None
        self.last_error: str | None = None
        self.endpoints: Endpoints | None = None
        # called with the revision after each successful pass (e.g. the addon controller)
        self.on_synced: list[Callable[[Revision], None]] = []
        self.elector: LeaderElector | None = None

    def is_leader(self) -> bool:
        """Whether this replica may write (always, without ``leader_elect``)."""
        if not self.config.leader_elect:
            return True
        return self.elector is not None and self.elector.is_leader()

    def request_sync(self, *, new_revision: bool = True) -> None:
        if new_revision:
            self.newer.set()
        self.wake.set()

    def _on_watch(self, kind: str, obj: dict[str, Any]) -> None:
        self.wake.set()

    def ready(self) -> bool:
        return self.last_result is not None and self.last_error is None

    def run(self) -> int:
        config = self.config
        kube = Kube.from_kubeconfig(config.kubeconfig, clock=self.clock)
        source = open_source(config.repo, config.branch, config.path, config.cache_dir)
        store = InventoryStore(kube, config.name, config.inventory_namespace)
        if config.listen:
            self.endpoints = Endpoints(
                config.listen,
                self.metrics,
                ready=self.ready,
                on_hook=self.request_sync,
                secret=config.webhook_secret,
            )
            self.endpoints.start()
            self.log.info("listening", extra={"port": self.endpoints.port})
        watcher = None
        if isinstance(source, LocalSource):
            watcher = PathWatcher(source.watch_dir, self.request_sync)
            watcher.start()
        elector = None
        if config.leader_elect:
            store.ensure_namespace()
            elector = LeaderElector(
                kube,
                f"{config.name}-leader",
                config.inventory_namespace,
                config.identity,
                lease_duration=config.lease_duration,
            )
            self.elector = elector
            threading.Thread(target=elector.run, args=(self.stop,), daemon=True).start()
        reconciler = Reconciler(
            kube,
            store,
            config.options,
            cancelled=lambda: self.newer.is_set() or self.stop.is_set(),
            clock=self.clock,
            may_write=elector.is_leader if elector is not None else lambda: True,
        )
        drift = DriftWatch(kube, self._on_watch, self.stop)
        failures = 0
        was_leader = False
        try:
            while not self.stop.is_set():
                if elector is not None and not elector.is_leader():
                    if was_leader:
                        self.log.warning("lost leadership; not writing")
                        was_leader = False
                    self.stop.wait(0.1)
                    continue
                if elector is not None and not was_leader:
                    self.log.info("became leader", extra={"identity": config.identity})
                    was_leader = True
                self.wake.clear()
                self.newer.clear()
                delay = self._pass(source, reconciler, drift, kube)
                if self.last_error is None:
                    failures = 0
                else:
                    failures += 1
                    delay = backoff(failures, cap=config.max_backoff)
                if self.wake.wait(delay):
                    self.stop.wait(DEBOUNCE)
        finally:
            if elector is not None:
                elector.release()
            if watcher is not None:
                watcher.stop()
            if self.endpoints is not None:
                self.endpoints.stop()
            kube.close()
        return 0

    def _pass(
        self,
        source: LocalSource | GitSource,
        reconciler: Reconciler,
        drift: DriftWatch,
        kube: Kube,
    ) -> float:
        config = self.config
        started = self.clock.monotonic()
        interval = config.interval * (1 + random.uniform(-config.jitter, config.jitter))
        try:
            revision: Revision = source.fetch()
            if revision.stale_error:
                self.log.warning(
                    "source unreachable; keeping last good revision",
                    extra={"revision": revision.name, "error": revision.stale_error},
                )
            result = reconciler.sync(revision)
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
        if config.drift_watch:
            # Watches start (their first list done) before the pass is published, so a change
            # made by anyone who waited for this pass is streamed, never missed.
            for resource in sorted(reconciler.managed, key=lambda r: (r.group, r.kind)):
                drift.watch(resource, f"{PART_OF_LABEL}={reconciler.store.id}")
            with contextlib.suppress(SyncError):
                drift.watch(kube.resource_for_group(CLUSTER_GROUP, "Cluster"), None)
        self.last_result = result
        if result.status_errors:
            self.metrics.errors.labels("status").inc(len(result.status_errors))
        self.metrics.set_revision(result.revision)
        self.metrics.applied.inc(len(result.changed))
        self.metrics.pruned.inc(len(result.pruned))
        self.metrics.kept.set(len(result.prune.kept_in_use) if result.prune else 0)
        if result.ok:
            self.last_error = None
            level = self.log.info if result.changed or result.pruned else self.log.debug
            level(
                "synced",
                extra={
                    "revision": result.revision,
                    "result": result.summary(),
                    "seconds": round(result.duration, 3),
                },
            )
            for callback in self.on_synced:
                try:
                    callback(revision)
                except Exception:  # a listener's bug must not stop the sync loop
                    self.log.exception("on_synced callback failed")
        else:
            self.metrics.errors.labels("apply").inc()
            self.last_error = "; ".join(
                [f"{o.id}: {o.error}" for o in result.failed]
                + [f"prune {k}: {v}" for k, v in result.prune_errors.items()]
                + ([result.health_error] if result.health_error else [])
            )
            self.log.error(
                "sync incomplete",
                extra={
                    "revision": result.revision,
                    "result": result.summary(),
                    "error": self.last_error,
                },
            )
        return interval
