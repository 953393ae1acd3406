"""``csops addons``: the cluster-addon controller (and CAPI runtime hooks) on its own."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

import click

from csops import console, options
from csops.errors import CommandFailed
from csops.syncer import logs
from csops.syncer.addons import clusteraddon
from csops.syncer.addons.controller import AddonController
from csops.syncer.addons.hooks import HookHandler, HookServer, extension_config
from csops.syncer.addons.options import AddonOptions
from csops.syncer.application import addons_once
from csops.syncer.kube import Kube


@click.command("addons")
@click.option(
    "--releases",
    "releases_dir",
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="The rendered tree's releases directory (rendered/releases).",
)
@options.kubeconfig()
@options.context
@click.option("--once", is_flag=True, help="One pass over all Clusters, then exit (0 all ready).")
@options.namespace("Only Clusters in this namespace (default: every namespace).")
@click.option(
    "--interval",
    type=float,
    default=60.0,
    show_default=True,
    help="Resync of converged clusters (drift correction), seconds.",
)
@options.addon_workers
@options.upgrade_timeout
@options.stage_timeout
@options.hook_listen
@click.option(
    "--hook-port", type=click.IntRange(0, 65535), default=None, hidden=True, help="Deprecated."
)
@options.hook_cert
@options.hook_key
@click.option(
    "--print-extension-config",
    "extension_url",
    default=None,
    metavar="URL",
    help="Print the ExtensionConfig for hooks served at URL (CA from --hook-cert).",
)
@options.logging
def addons(  # noqa: PLR0917 - one parameter per click option
    releases_dir: Path,
    kubeconfig: Path | None,
    context: str | None,
    once: bool,
    namespace: str | None,
    interval: float,
    addon_workers: int,
    upgrade_timeout: float,
    stage_timeout: float,
    hook_listen: tuple[str, int] | None,
    hook_port: int | None,
    hook_cert: Path | None,
    hook_key: Path | None,
    extension_url: str | None,
    log_format: str,
    log_level: str,
    verbose: bool,
) -> None:
    """Apply each workload cluster's addons from its Cluster's release, and gate upgrades."""
    if extension_url is not None:
        if hook_cert is None:
            raise click.UsageError("--print-extension-config needs --hook-cert (the CA bundle)")
        import yaml

        click.echo(
            yaml.safe_dump(
                extension_config("csops-addons", extension_url, hook_cert.read_bytes()),
                sort_keys=False,
            )
        )
        return
    if hook_port is not None:
        console.err.print(
            "warning: --hook-port is deprecated: use --hook-listen :PORT", style="yellow"
        )
        hook_listen = hook_listen or ("0.0.0.0", hook_port)
    if hook_listen is not None and (hook_cert is None or hook_key is None):
        raise click.UsageError("--hook-listen needs --hook-cert and --hook-key")
    log = logs.configure(log_format, options.log_level(log_level, verbose))
    kube = Kube.from_kubeconfig(kubeconfig, context=context)
    server: HookServer | None = None
    settings = AddonOptions(
        interval=interval,
        upgrade_timeout=upgrade_timeout,
        stage_timeout=stage_timeout,
        namespace=namespace,
        workers=addon_workers,
    )
    if once:
        try:
            results = addons_once(kube, releases_dir, settings, None)
        finally:
            kube.close()
        if not all(r.ready for r in results.values()):
            raise CommandFailed()
        return
    controller = AddonController(kube, releases_dir, settings)
    if hook_listen is not None and hook_cert is not None and hook_key is not None:
        hook_kube = Kube.from_kubeconfig(
            kubeconfig, context=context, field_manager=clusteraddon.HOOKS_FIELD_MANAGER
        )
        handler = HookHandler(
            hook_kube, releases_dir, upgrade_timeout=upgrade_timeout, on_change=controller.wake
        )
        server = HookServer(handler, hook_cert, hook_key, *hook_listen).start()
        settings.hook_server_ready = server.ready
        log.info("serving CAPI runtime hooks", extra={"port": server.port})
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        log.info("stopping", extra={"signal": signum})
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        controller.run(stop)
    finally:
        if server is not None:
            server.stop()
        kube.close()
