"""``csops addons``: the cluster-addon controller (and CAPI runtime hooks) on its own."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

import click

from csops import options
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
@click.option("--once", is_flag=True, help="One pass over all Clusters, then exit (0 all ready).")
@click.option("--namespace", default=None, help="Only Clusters in this namespace.")
@click.option(
    "--interval",
    type=float,
    default=60.0,
    show_default=True,
    help="Resync of converged clusters (drift correction), seconds.",
)
@options.upgrade_timeout
@options.stage_timeout
@click.option("--hook-port", type=int, default=None, help="Serve CAPI runtime hooks (HTTPS).")
@options.hook_cert
@options.hook_key
@click.option(
    "--print-extension-config",
    "extension_url",
    default=None,
    metavar="URL",
    help="Print the ExtensionConfig for hooks served at URL (CA from --hook-cert).",
)
@options.log_format
def addons(  # noqa: PLR0917 - one parameter per click option
    releases_dir: Path,
    kubeconfig: Path | None,
    once: bool,
    namespace: str | None,
    interval: float,
    upgrade_timeout: float,
    stage_timeout: float,
    hook_port: int | None,
    hook_cert: Path | None,
    hook_key: Path | None,
    extension_url: str | None,
    log_format: str,
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
    if hook_port is not None and (hook_cert is None or hook_key is None):
        raise click.UsageError("--hook-port needs --hook-cert and --hook-key")
    log = logs.configure(log_format)
    kube = Kube.from_kubeconfig(kubeconfig)
    server: HookServer | None = None
    options = AddonOptions(
        interval=interval,
        upgrade_timeout=upgrade_timeout,
        stage_timeout=stage_timeout,
        namespace=namespace,
    )
    if once:
        try:
            results = addons_once(kube, releases_dir, options, None)
        finally:
            kube.close()
        if not all(r.ready for r in results.values()):
            raise CommandFailed()
        return
    controller = AddonController(kube, releases_dir, options)
    if hook_port is not None and hook_cert is not None and hook_key is not None:
        hook_kube = Kube.from_kubeconfig(kubeconfig, field_manager=clusteraddon.HOOKS_FIELD_MANAGER)
        handler = HookHandler(
            hook_kube, releases_dir, upgrade_timeout=upgrade_timeout, on_change=controller.wake
        )
        server = HookServer(handler, hook_cert, hook_key, port=hook_port).start()
        options.hook_server_ready = server.ready
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
