"""Everything ``csops sync`` can be told, in one frozen value the CLI parses its flags into.

:class:`~csops.syncer.application.Application` builds the running parts from it; nothing
below the CLI reads flags or the environment.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from csops.syncer import webhook
from csops.syncer.gitauth import GitAuth
from csops.syncer.reconcile import SyncOptions
from csops.syncer.source import DEFAULT_PATH


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/csops/sync`` (``~/.cache/csops/sync``): git mirrors and snapshots."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "csops" / "sync"


@dataclass(frozen=True)
class HookSettings:
    """Where the CAPI runtime-extension server listens, and its serving certificate."""

    address: tuple[str, int]
    cert: Path
    key: Path


@dataclass(frozen=True)
class WebhookSettings:
    """The webhook that wakes the loop: its secret, where it is served, its limits."""

    secret: bytes
    listen: tuple[str, int] | None = None
    """A port of its own; ``None``: beside ``/metrics`` on :attr:`Settings.listen`."""
    max_body: int = webhook.MAX_BODY
    tolerance: float = webhook.TOLERANCE
    """How far a signed timestamp may be from now (Standard Webhooks), seconds."""


@dataclass(frozen=True)
class AddonSettings:
    """The addon controller beside the sync loop (``--addons``)."""

    namespace: str | None = None
    """Only Clusters of this namespace (default: every namespace)."""
    stage_timeout: float = 600.0
    upgrade_timeout: float = 900.0
    hooks: HookSettings | None = None
    workers: int = 4
    """Clusters reconciled at the same time (``--addon-workers``)."""


@dataclass(frozen=True)
class Settings:
    """One ``csops sync``: the source, the cluster, the loop, the endpoints, the addons."""

    repo: str
    branch: str | None = None
    path: str = DEFAULT_PATH
    git: GitAuth = field(default_factory=GitAuth)
    """Credentials of a private git source."""
    kubeconfig: Path | None = None
    context: str | None = None
    """The kubeconfig context (default: its current context)."""
    name: str = "csops"
    """The inventory (ApplySet parent Secret) name; also names the Lease."""
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
    """``/metrics``, ``/healthz``, ``/readyz`` (and the webhook ``/hook`` unless it has a port
    of its own)."""
    webhook: WebhookSettings | None = None
    """``None``: no webhook (``/hook`` answers 404)."""
    drift_watch: bool = True
    addons: AddonSettings | None = None
    """``None``: workload clusters' addons are left alone (``--no-addons``)."""
