"""``csops sync``: reconcile a management cluster toward the rendered tree.

The command only parses its flags into :class:`~csops.syncer.settings.Settings`; the
:class:`~csops.syncer.application.Application` does the rest.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import click

from csops import console, options
from csops.errors import CommandFailed
from csops.options import F
from csops.syncer import logs, webhook
from csops.syncer.application import Application
from csops.syncer.gitauth import GitAuth
from csops.syncer.prune import PruneGuards
from csops.syncer.reconcile import SyncOptions
from csops.syncer.settings import (
    AddonSettings,
    HookSettings,
    Settings,
    WebhookSettings,
    default_cache_dir,
)
from csops.syncer.source import DEFAULT_PATH

TOKEN_ENV = "CSOPS_GIT_TOKEN"
USERNAME_ENV = "CSOPS_GIT_USERNAME"


def _file(flag: str, help_text: str) -> Callable[[F], F]:
    return click.option(flag, type=click.Path(dir_okay=False, path_type=Path), help=help_text)


def git_options(command: F) -> F:
    """The credentials of a private git source (docs/operations.md, "Git credentials")."""
    flags = [
        click.option(
            "--git-secret",
            metavar="[NAMESPACE/]NAME",
            default=None,
            help="A Secret with the keys username, password, bearerToken, identity, "
            "known_hosts, ca.crt (Flux's; namespace default: --inventory-namespace).",
        ),
        _file(
            "--git-ca-file", "CA bundle (PEM) an HTTPS git server's certificate is checked against."
        ),
        _file(
            "--git-known-hosts",
            "known_hosts with the SSH git server's host key (default: ~/.ssh/known_hosts).",
        ),
        _file("--git-ssh-key", "Private SSH key (unencrypted) for ssh:// and git@host: URLs."),
        _file(
            "--git-bearer-token-file",
            "File with an HTTPS bearer token (sent as an Authorization header).",
        ),
        _file(
            "--git-password-file",
            f"File with the HTTPS password or access token (or env {TOKEN_ENV}).",
        ),
        click.option(
            "--git-username",
            default=None,
            envvar=USERNAME_ENV,
            help=f"HTTPS user name for the password or token (default: git; env {USERNAME_ENV}).",
        ),
    ]
    for flag in flags:
        command = flag(command)
    return command


def repo_of(repo: str | None, deprecated: str | None) -> str:
    """REPO, or the deprecated ``--repo`` (with a warning); a usage error without either."""
    if deprecated is not None:
        console.err.print(
            "warning: --repo is deprecated: give REPO as the argument", style="yellow"
        )
        if repo is not None and repo != deprecated:
            raise click.UsageError(f"REPO {repo!r} and --repo {deprecated!r} disagree")
        return deprecated
    if repo is None:
        raise click.UsageError("missing REPO: a git URL or a local path")
    return repo


@click.command("sync")
@click.argument("repo", required=False)
@click.option("--repo", "repo_option", default=None, hidden=True, help="Deprecated: REPO.")
@click.option("--branch", default=None, help="Branch to follow (default main for git URLs).")
@click.option(
    "--path", "path", default=DEFAULT_PATH, show_default=True, help="Manifests dir in the repo."
)
@git_options
@options.kubeconfig()
@options.context
@click.option("--once", is_flag=True, help="One pass, then exit (0 synced, 1 not).")
@click.option(
    "--name", default="csops", show_default=True, help="Inventory (ApplySet parent Secret) name."
)
@options.inventory_namespace("Namespace of the inventory Secret (created if missing).")
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
    "--adopt",
    is_flag=True,
    help="Take over existing objects another manager created (without it, only those "
    "annotated csops.io/adopt=true); each is reported.",
)
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
@click.option(
    "--listen",
    type=options.ADDRESS,
    default=None,
    help="HOST:PORT or :PORT for /metrics, /healthz, /readyz (and /hook without --webhook-listen).",
)
@click.option(
    "--webhook-secret-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Secret of the webhook /hook (or env CSOPS_WEBHOOK_SECRET): the HMAC key of "
    "GitHub, Gitea and Standard Webhooks signatures, GitLab's token.",
)
@click.option(
    "--webhook-listen",
    type=options.ADDRESS,
    default=None,
    help="Serve the webhook /hook on HOST:PORT or :PORT of its own, apart from /metrics.",
)
@click.option(
    "--webhook-max-body",
    type=click.IntRange(1024),
    default=webhook.MAX_BODY,
    show_default=True,
    metavar="BYTES",
    help="Largest webhook body accepted; larger ones get 413 unread.",
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
@options.addon_workers
@options.stage_timeout
@options.upgrade_timeout
@options.hook_listen
@options.hook_cert
@options.hook_key
@options.logging
def sync(  # noqa: PLR0917 - one parameter per click option
    repo: str | None,
    repo_option: str | None,
    branch: str | None,
    path: str,
    git_username: str | None,
    git_password_file: Path | None,
    git_bearer_token_file: Path | None,
    git_ssh_key: Path | None,
    git_known_hosts: Path | None,
    git_ca_file: Path | None,
    git_secret: str | None,
    kubeconfig: Path | None,
    context: str | None,
    once: bool,
    name: str,
    inventory_namespace: str,
    interval: float,
    prune: bool,
    max_prune_share: float,
    allow_mass_prune: bool,
    allow_crd_prune: bool,
    adopt: bool,
    wait: bool,
    timeout: float,
    concurrency: int,
    leader_elect: bool,
    lease_duration: float,
    listen: tuple[str, int] | None,
    webhook_secret_file: Path | None,
    webhook_listen: tuple[str, int] | None,
    webhook_max_body: int,
    cache_dir: Path | None,
    addons: bool,
    addons_namespace: str | None,
    addon_workers: int,
    stage_timeout: float,
    upgrade_timeout: float,
    hook_listen: tuple[str, int] | None,
    hook_cert: Path | None,
    hook_key: Path | None,
    log_format: str,
    log_level: str,
    verbose: bool,
) -> None:
    """Reconcile the cluster toward the manifests of REPO (continuously, or --once), and
    apply each workload cluster's addons (--no-addons to leave them alone).

    \b
    REPO is a git URL (https://, ssh://, git@host:path, file://) or a local path: a
    directory read as is, or a git work tree followed on --branch.
    """
    source = repo_of(repo, repo_option)
    hooks_at = hook_listen
    if hooks_at is not None and (hook_cert is None or hook_key is None):
        raise click.UsageError("--hook-listen needs --hook-cert and --hook-key")
    if hooks_at is not None and not addons:
        raise click.UsageError("--hook-listen serves the addon hooks; drop --no-addons")
    hook = _webhook(webhook_secret_file, webhook_listen, webhook_max_body)
    log = logs.configure(log_format, options.log_level(log_level, verbose))
    hooks = None
    if hooks_at is not None and hook_cert is not None and hook_key is not None:
        hooks = HookSettings(hooks_at, hook_cert, hook_key)
    settings = Settings(
        repo=source,
        branch=branch,
        path=path,
        git=GitAuth(
            username=git_username or "",
            password=os.environ.get(TOKEN_ENV, "").strip(),
            password_file=git_password_file,
            bearer_token_file=git_bearer_token_file,
            ssh_key_file=git_ssh_key,
            known_hosts_file=git_known_hosts,
            ca_file=git_ca_file,
            secret=git_secret,
        ),
        kubeconfig=kubeconfig,
        context=context,
        name=name,
        inventory_namespace=inventory_namespace,
        options=SyncOptions(
            prune=prune,
            guards=PruneGuards(max_prune_share, allow_mass_prune, allow_crd_prune),
            wait=wait,
            timeout=timeout,
            concurrency=concurrency,
            adopt=adopt,
        ),
        interval=interval,
        cache_dir=cache_dir or default_cache_dir(),
        leader_elect=leader_elect,
        lease_duration=lease_duration,
        listen=listen,
        webhook=hook,
        addons=(
            AddonSettings(
                addons_namespace, stage_timeout, upgrade_timeout, hooks, workers=addon_workers
            )
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


def _webhook(
    secret_file: Path | None, listen: tuple[str, int] | None, max_body: int
) -> WebhookSettings | None:
    """The webhook settings from the flags and ``$CSOPS_WEBHOOK_SECRET``; ``None``: no webhook."""
    secret = None
    if secret_file is not None:
        try:
            secret = secret_file.read_bytes().strip()
        except OSError as exc:
            raise click.BadParameter(str(exc), param_hint="--webhook-secret-file") from exc
    elif os.environ.get("CSOPS_WEBHOOK_SECRET"):
        secret = os.environ["CSOPS_WEBHOOK_SECRET"].strip().encode()
    if secret is not None and not secret:
        raise click.UsageError("the webhook secret is empty: anyone could sign a delivery")
    if secret is None:
        if listen is not None:
            raise click.UsageError(
                "--webhook-listen needs a secret (--webhook-secret-file or CSOPS_WEBHOOK_SECRET)"
            )
        return None
    return WebhookSettings(secret, listen, max_body)
