"""``csops sync`` assembled from its :class:`~csops.syncer.settings.Settings`.

The CLI parses flags into settings and hands them here; this module builds every running part
(clients, source, Lease elector, sync loop, HTTP endpoints, file watcher, addon controller and
CAPI hook server), starts them, runs the loop, and takes them down in reverse order:

- :meth:`Application.once`: one sync pass, then one addon pass over every Cluster with the
  releases of the revision just synced;
- :meth:`Application.serve`: the long-running controller, until :meth:`Application.stop`.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from csops.syncer import logs, webhook
from csops.syncer.addons.options import AddonOptions, Result
from csops.syncer.clock import SYSTEM, Clock
from csops.syncer.controller import Controller, open_settings_source, pass_fields, sync_once
from csops.syncer.endpoints import HOOK_PATH, Endpoints, hook_route
from csops.syncer.httpserver import HttpServer
from csops.syncer.inventory import InventoryStore
from csops.syncer.kube import FIELD_MANAGER, Kube
from csops.syncer.leader import LeaderElector
from csops.syncer.metrics import Metrics
from csops.syncer.reconcile import SyncResult
from csops.syncer.settings import AddonSettings, Settings
from csops.syncer.source import LocalSource, Revision
from csops.syncer.watcher import PathWatcher

if TYPE_CHECKING:
    from csops.syncer.addons.hooks import HookServer
    from csops.syncer.addons.sidecar import AddonSidecar


def addon_options(addons: AddonSettings) -> AddonOptions:
    """The addon controller's options for ``addons``."""
    return AddonOptions(
        upgrade_timeout=addons.upgrade_timeout,
        stage_timeout=addons.stage_timeout,
        namespace=addons.namespace,
        workers=addons.workers,
    )


def log_result(result: SyncResult) -> None:
    """Say how a pass went: a summary, then every failure and everything held back."""
    log = logs.get()
    log.info("synced" if result.ok else "sync incomplete", extra=pass_fields(result))
    if result.fetch_error:
        log.error("fetch failed", extra={"error": result.fetch_error})
    for outcome in result.failed:
        log.error("apply failed", extra={"object": str(outcome.id), "error": outcome.error})
    for outcome in result.adopted:
        log.warning("adopted", extra={"object": str(outcome.id)})
    if result.prune and result.prune.blocked:
        log.warning("prune blocked", extra={"reason": result.prune.blocked})
    for oid, users in (result.prune.kept_in_use if result.prune else {}).items():
        log.warning("kept: in use", extra={"object": str(oid), "clusters": ",".join(users)})
    if result.health_error:
        log.error("health", extra={"error": result.health_error})
    for namespace, name in result.unmanaged:
        log.warning(
            "ClusterStack not in git: left alone",
            extra={"clusterstack": f"{namespace}/{name}"},
        )


def addons_once(
    kube: Kube, releases: Path, options: AddonOptions, revision: str | None
) -> dict[str, Result]:
    """One addon pass over all Clusters with ``releases``, logged cluster by cluster."""
    from csops.syncer.addons.controller import AddonController  # Helm and CEL: when used

    log = logs.get()
    controller = AddonController(kube, releases, options, revision=revision)
    try:
        results = controller.reconcile_once()
    finally:
        controller.clients.close()
    for key, outcome in sorted(results.items()):
        if outcome.ready:
            log.info("addons ready", extra={"cluster": key})
        else:
            (log.error if outcome.error else log.warning)(
                "addons not ready", extra={"cluster": key, "detail": outcome.message}
            )
    return results


class Application:
    """The sync loop and, beside it, the addon controller and the hook server."""

    def __init__(self, settings: Settings, *, clock: Clock = SYSTEM) -> None:
        self.settings = settings
        self.clock = clock
        self.metrics = Metrics()
        self.log = logs.get()
        self.controller: Controller | None = None
        self.endpoints: Endpoints | None = None
        self.webhook_server: HttpServer | None = None
        self.hook_server: HookServer | None = None
        self._stack = contextlib.ExitStack()
        self._sidecar: AddonSidecar | None = None
        self._stopped = threading.Event()
        self._serving = threading.Event()

    def ready(self) -> bool:
        """``/readyz``: every part started and not stopping. A standby replica is ready (it
        serves its endpoints and takes over when the Lease frees), and so is a replica whose
        last pass failed: sync health is in status, Events and metrics, not in readiness."""
        return self._serving.is_set() and not self._stopped.is_set()

    def _connect(self, field_manager: str = FIELD_MANAGER) -> Kube:
        kube = Kube.from_kubeconfig(
            self.settings.kubeconfig,
            context=self.settings.context,
            field_manager=field_manager,
            clock=self.clock,
        )
        self._stack.callback(kube.close)
        return kube

    # ------------------------------------------------------------------ once
    def once(self) -> bool:
        """One sync pass and one addon pass; whether both succeeded (every failure is logged)."""
        settings = self.settings
        with self._stack:
            kube = self._connect()
            synced: list[Revision] = []
            result = sync_once(settings, kube, on_synced=synced.append)
            log_result(result)
            if settings.addons is None or not synced:
                return result.ok
            releases = synced[-1].releases
            if not releases.is_dir():
                self.log.warning(
                    "no releases directory; no addons applied", extra={"releases": str(releases)}
                )
                return result.ok
            options = addon_options(settings.addons)
            results = addons_once(kube, releases, options, synced[-1].name)
            # a cluster still waiting (a condition, its control plane) is not a failure
            return result.ok and not any(r.error for r in results.values())

    # ------------------------------------------------------------------ serve
    def build(self) -> Controller:
        """Build the long-running parts (nothing runs yet); the sync loop."""
        if self.controller is not None:
            return self.controller
        settings = self.settings
        kube = self._connect()
        source = open_settings_source(settings, kube)
        elector = self._elector(kube)
        controller = Controller(
            settings, kube, source, elector=elector, metrics=self.metrics, clock=self.clock
        )
        hooks = settings.webhook
        receiver = (
            webhook.Receiver(None)
            if hooks is None
            else webhook.Receiver(
                hooks.secret, clock=self.clock, max_body=hooks.max_body, tolerance=hooks.tolerance
            )
        )
        hook = hook_route(receiver, self.metrics, controller.request_sync)
        own_port = hooks.listen if hooks else None
        if settings.listen:
            self.endpoints = Endpoints(
                settings.listen,
                self.metrics,
                ready=self.ready,
                hook=None if own_port else hook,
            )
        if own_port:
            self.webhook_server = HttpServer(
                own_port, {("POST", HOOK_PATH): hook}, serves=("/hook", "--webhook-listen")
            )
        if settings.addons is not None:
            self._sidecar = self._addons(settings.addons, controller)
        self.controller = controller
        return controller

    def _elector(self, kube: Kube) -> LeaderElector | None:
        settings = self.settings
        if not settings.leader_elect:
            return None
        InventoryStore(kube, settings.name, settings.inventory_namespace).ensure_namespace()
        return LeaderElector(
            kube,
            f"{settings.name}-leader",
            settings.inventory_namespace,
            settings.identity,
            lease_duration=settings.lease_duration,
            clock=self.clock,
        )

    def _addons(self, addons: AddonSettings, loop: Controller) -> AddonSidecar:
        from csops.syncer.addons import clusteraddon
        from csops.syncer.addons.controller import AddonController
        from csops.syncer.addons.hooks import HookHandler, HookServer
        from csops.syncer.addons.sidecar import AddonSidecar

        options = addon_options(addons)
        controller = AddonController(self._connect(), None, options, clock=self.clock)
        handler = None
        if addons.hooks is not None:
            hook_kube = self._connect(clusteraddon.HOOKS_FIELD_MANAGER)
            handler = HookHandler(
                hook_kube,
                None,
                upgrade_timeout=addons.upgrade_timeout,
                clock=self.clock,
                on_change=controller.wake,
            )
            self.hook_server = HookServer(
                handler, addons.hooks.cert, addons.hooks.key, *addons.hooks.address
            )
            options.hook_server_ready = self.hook_server.ready
        return AddonSidecar(controller, handler).attach(loop)

    def serve(self) -> None:
        """Start everything, sync until :meth:`stop`, then take everything down."""
        with self._stack:
            loop = self.build()
            self._start(loop)
            if not self._stopped.is_set():
                loop.run()

    def _start(self, loop: Controller) -> None:
        stack = self._stack
        if loop.elector is not None:
            elector = loop.elector
            threading.Thread(target=elector.run, args=(loop.stop,), daemon=True).start()
            stack.callback(elector.release)
        if self.endpoints is not None:
            self.endpoints.start()
            stack.callback(self.endpoints.stop)
            self.log.info("listening", extra={"port": self.endpoints.port})
        if self.webhook_server is not None:
            self.webhook_server.start()
            stack.callback(self.webhook_server.stop)
            self.log.info("serving the webhook", extra={"port": self.webhook_server.port})
        if isinstance(loop.source, LocalSource):
            watcher = PathWatcher(loop.source.watch_dir, loop.request_sync)
            watcher.start()
            stack.callback(watcher.stop)
        if self.hook_server is not None:
            self.hook_server.start()
            stack.callback(self.hook_server.stop)
            self.log.info("serving CAPI runtime hooks", extra={"port": self.hook_server.port})
        if self._sidecar is not None:
            self._sidecar.start(loop.stop)
            stack.callback(self._sidecar.join)
        stack.callback(loop.stop.set)  # registered last, so it runs first on the way out
        stack.callback(self._serving.clear)
        self._serving.set()

    def stop(self) -> None:
        """Ask the loop to finish its pass and return (safe from a signal handler)."""
        self._stopped.set()
        if self.controller is not None:
            self.controller.stop.set()
            self.controller.wake.set()

    def close(self) -> None:
        """Release what :meth:`build` made when :meth:`serve` never ran."""
        self._stack.close()
