"""``csops sync`` and ``csops status``: reconcile a management cluster toward the rendered tree.

The command only parses its flags into :class:`~csops.syncer.settings.Settings`; the
:class:`~csops.syncer.application.Application` does the rest.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from types import FrameType

import click

from csops import console, options
from csops.errors import CommandFailed
from csops.syncer import logs
from csops.syncer.application import Application
from csops.syncer.inventory import InventoryStore
from csops.syncer.kube import Kube
from csops.syncer.prune import PruneGuards
from csops.syncer.reconcile import SyncOptions
from csops.syncer.settings import AddonSettings, HookSettings, Settings, default_cache_dir
from csops.syncer.source import DEFAULT_PATH


def _listen(value: str | None) -> tuple[str, int] | None:
    if not value:
        return None
    host, _, port = value.rpartition(":")
    if not port.isdigit():
        raise click.BadParameter(f"{value!r}: expected HOST:PORT or :PORT")
    return (host or "0.0.0.0", int(port))


@click.command("sync")
@click.option(
    "--repo",
    required=True,
    help="Git URL, or a local path (a directory, or a git repo with --branch).",
)
@click.option("--branch", default=None, help="Branch to follow (default main for git URLs).")
@click.option(
    "--path", "path", default=DEFAULT_PATH, show_default=True, help="Manifests dir in the repo."
)
@options.kubeconfig()
@click.option("--once", is_flag=True, help="One pass, then exit (0 synced, 1 not).")
@click.option(
    "--name", default="csops", show_default=True, help="Inventory (ApplySet parent Secret) name."
)
@click.option(
    "--inventory-namespace",
    default="csops-system",
    show_default=True,
    help="Namespace of the inventory Secret (created if missing).",
)
@click.option(
    "--interval", type=float, default=60.0, show_default=True, help="Poll interval, seconds."
)
@click.option(
    "--prune/--no-prune",
    default=True,
    show_default=True,
    help="Delete objects that left the manifests (guarded: never in-use classes).",
)
@click.option(
    "--max-prune-share",
    type=click.FloatRange(0, 1),
    default=0.5,
    show_default=True,
    help="Largest share of the inventory one pass may delete.",
)
@click.option("--allow-mass-prune", is_flag=True, help="Allow pruning more than --max-prune-share.")
@click.option("--allow-crd-prune", is_flag=True, help="Allow pruning CRDs and Namespaces.")
@click.option(
    "--wait/--no-wait", default=True, show_default=True, help="Wait for health (kstatus)."
)
@click.option(
    "--timeout", type=float, default=60.0, show_default=True, help="Health wait, seconds."
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="Objects applied in parallel within one stage.",
)
@click.option("--leader-elect", is_flag=True, help="Hold a Lease; only the holder writes.")
@click.option(
    "--lease-duration",
    type=float,
    default=15.0,
    show_default=True,
    help="Lease duration in seconds, with --leader-elect.",
)
@click.option("--listen", default=None, help="HOST:PORT for /metrics, /healthz, /readyz, /hook.")
@click.option(
    "--webhook-secret-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="HMAC secret for /hook (or env CSOPS_WEBHOOK_SECRET).",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where git clones and revision snapshots are kept (default: ~/.cache/csops/sync).",
)
@click.option(
    "--addons/--no-addons",
    default=True,
    show_default=True,
    help="Apply each workload cluster's addons from the synced revision's releases/.",
)
@click.option(
    "--addons-namespace", default=None, help="Only Clusters in this namespace get addons."
)
@options.stage_timeout
@options.upgrade_timeout
@click.option(
    "--hook-listen", default=None, metavar="HOST:PORT", help="Serve CAPI runtime hooks (HTTPS)."
)
@options.hook_cert
@options.hook_key
@options.log_format
def sync(  # noqa: PLR0917 - one parameter per click option
    repo: str,
    branch: str | None,
    path: str,
    kubeconfig: Path | None,
    once: bool,
    name: str,
    inventory_namespace: str,
    interval: float,
    prune: bool,
    max_prune_share: float,
    allow_mass_prune: bool,
    allow_crd_prune: bool,
    wait: bool,
    timeout: float,
    concurrency: int,
    leader_elect: bool,
    lease_duration: float,
    listen: str | None,
    webhook_secret_file: Path | None,
    cache_dir: Path | None,
    addons: bool,
    addons_namespace: str | None,
    stage_timeout: float,
    upgrade_timeout: float,
    hook_listen: str | None,
    hook_cert: Path | None,
    hook_key: Path | None,
    log_format: str,
) -> None:
    """Reconcile the cluster toward the manifests of REPO (continuously, or --once), and
    apply each workload cluster's addons (--no-addons to leave them alone)."""
    hooks_at = _listen(hook_listen)
    if hooks_at is not None and (hook_cert is None or hook_key is None):
        raise click.UsageError("--hook-listen needs --hook-cert and --hook-key")
    if hooks_at is not None and not addons:
        raise click.UsageError("--hook-listen serves the addon hooks; drop --no-addons")
    log = logs.configure(log_format)
    secret = None
    if webhook_secret_file is not None:
        secret = webhook_secret_file.read_bytes().strip()
    elif os.environ.get("CSOPS_WEBHOOK_SECRET"):
        secret = os.environ["CSOPS_WEBHOOK_SECRET"].encode()
    hooks = None
    if hooks_at is not None and hook_cert is not None and hook_key is not None:
        hooks = HookSettings(hooks_at, hook_cert, hook_key)
    settings = Settings(
        repo=repo,
        branch=branch,
        path=path,
        kubeconfig=kubeconfig,
        name=name,
        inventory_namespace=inventory_namespace,
        options=SyncOptions(
            prune=prune,
            guards=PruneGuards(max_prune_share, allow_mass_prune, allow_crd_prune),
            wait=wait,
            timeout=timeout,
            concurrency=concurrency,
        ),
        interval=interval,
        cache_dir=cache_dir or default_cache_dir(),
        leader_elect=leader_elect,
        lease_duration=lease_duration,
        listen=_listen(listen),
        webhook_secret=secret,
        addons=(
            AddonSettings(addons_namespace, stage_timeout, upgrade_timeout, hooks)
            if addons
            else None
        ),
    )
    app = Application(settings)
    if once:
        if not app.once():
            raise CommandFailed()
        return

    def _stop(signum: int, frame: FrameType | None) -> None:
        log.info("stopping", extra={"signal": signum})
        app.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    app.serve()


@click.command("status")
@options.kubeconfig()
@click.option("--name", default="csops", show_default=True, help="Inventory name used by the sync.")
@click.option(
    "--inventory-namespace",
    default="csops-system",
    show_default=True,
    help="Namespace of the inventory Secret.",
)
@options.output("output")
def status(kubeconfig: Path | None, name: str, inventory_namespace: str, output: str) -> None:
    """What is synced, what is held back by in-use protection, and the last error."""
    kube = Kube.from_kubeconfig(kubeconfig)
    try:
        inventory = InventoryStore(kube, name, inventory_namespace).read()
    finally:
        kube.close()
    state = inventory.state
    data: dict[str, object] = {
        "inventory": f"{inventory_namespace}/{name}",
        "objects": len(inventory.members),
        "revision": state.get("revision"),
        "ok": state.get("ok"),
        "failed": state.get("failed") or {},
        "keptInUse": state.get("keptInUse") or {},
        "pruneBlocked": state.get("pruneBlocked"),
        "healthError": state.get("healthError"),
    }
    if output != "text":
        console.structured(data, output)
        return
    if not inventory.members and not state:
        click.echo(f"no inventory {inventory_namespace}/{name}: nothing synced yet")
        raise CommandFailed()
    click.echo(f"revision:  {data['revision']}")
    click.echo(f"objects:   {data['objects']}")
    click.echo(f"state:     {'synced' if data['ok'] else 'NOT synced'}")
    kept: dict[str, list[str]] = state.get("keptInUse") or {}
    failed: dict[str, str] = state.get("failed") or {}
    for oid, users in sorted(kept.items()):
        click.echo(f"kept:      {oid} (in use by {', '.join(users)})")
    for oid, error in sorted(failed.items()):
        click.echo(f"failed:    {oid}: {error}")
    if data["pruneBlocked"]:
        click.echo(f"prune:     {data['pruneBlocked']}")
    if data["healthError"]:
        click.echo(f"health:    {data['healthError']}")
