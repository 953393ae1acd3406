"""How the addon controller schedules and bounds its work, and what one reconcile reports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class AddonOptions:
    interval: float = 60.0  # resync of converged clusters (drift correction)
    waiting_interval: float = 2.0  # while a condition or the control plane is awaited
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    upgrade_timeout: float = 900.0
    workers: int = 4
    tick: float = 0.5  # loop granularity; also the list period while no watch is running
    resync: float = 10.0  # re-list of Clusters while the watch runs
    stage_timeout: float = 600.0  # longest a pre-/post-condition may hold a stage (0: forever)
    watch: bool = True  # watch Clusters (a new Cluster is picked up at once)
    hook_server_ready: Callable[[], bool] | None = None
    namespace: str | None = None  # only Clusters of this namespace (default: all)
    may_run: Callable[[], bool] | None = None  # e.g. "this replica holds the Lease"


@dataclass
class Result:
    cluster: str
    ready: bool
    requeue_after: float
    message: str = ""
    error: bool = False
