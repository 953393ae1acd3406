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

import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from csops.syncer import logs
from csops.syncer.addons.cluster import CLUSTER_API_VERSION, ClusterView, view
from csops.syncer.addons.options import AddonOptions, Result
from csops.syncer.addons.reconcile import ClusterReconciler
from csops.syncer.addons.releases import ReleaseCatalog
from csops.syncer.addons.workload import WorkloadClients
from csops.syncer.clock import SYSTEM, Clock, backoff
from csops.syncer.drift import DriftWatch
from csops.syncer.errors import ApiError
from csops.syncer.kube import Kube


@dataclass
class _Schedule:
    due: float = 0.0
    failures: int = 0
    running: bool = False
    woken: bool = False  # woken while running: the running reconcile read the state before


class AddonController:
    """``reconcile_once()`` for one pass over all clusters; ``run(stop)`` to keep going."""

    def __init__(
        self,
        kube: Kube,
        releases_dir: Path | None,
        options: AddonOptions | None = None,
        clock: Clock = SYSTEM,
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
        self.reconciler = ClusterReconciler(kube, self.options, self.clients, self._releases, clock)
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
                    sched.woken = sched.running
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
                now = self.clock.monotonic()
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
                    delay = backoff(
                        sched.failures, self.options.backoff_base, self.options.backoff_cap
                    )
                else:
                    sched.failures = 0
                    delay = result.requeue_after
                # A wake during the run (a hook call, a Cluster event) is not lost to the
                # run's own requeue: the run may have read the state from before it.
                sched.due = 0.0 if sched.woken else self.clock.monotonic() + delay
                sched.woken = False

        return done

    # ------------------------------------------------------------------ one cluster
    def reconcile_cluster(self, cluster: ClusterView) -> Result:
        """Reconcile one cluster now (see :class:`~syncer.addons.reconcile.ClusterReconciler`)."""
        return self.reconciler.reconcile(cluster)


def _revision_of(releases_dir: Path) -> str:
    """A name for releases without a git revision: the directory and its render.lock digest
    (a re-render is a new revision)."""
    lock = releases_dir.parent / "render.lock"
    try:
        digest = hashlib.sha256(lock.read_bytes()).hexdigest()[:12]
    except OSError:
        return str(releases_dir)
    return f"{releases_dir}@sha256:{digest}"


__all__ = ["AddonController", "AddonOptions", "Result"]
