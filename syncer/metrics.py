"""Prometheus metrics of the syncer (docs/operations.md lists each with an example alert).

An own registry, so tests and embedders do not collide, with the standard process, platform
and garbage-collector collectors added to it. Every labelled series whose label values are
known in advance (error kinds, condition statuses) exists from the start at 0, so an alert on
``increase(...)`` or ``rate(...)`` works before the first error.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from csops.syncer.webhook import Result

CONDITION_STATUSES = ("True", "False", "Unknown")


class ErrorKind(StrEnum):
    """The ``kind`` label of ``csops_sync_errors_total``."""

    FETCH = "fetch"
    """The source could not be fetched (and no earlier revision was there to fall back on)."""
    REVISION = "revision"
    """The revision's manifests are empty or unparsable: nothing was applied or pruned."""
    API = "api"
    """The API server refused or could not be reached."""
    APPLY = "apply"
    """At least one object could not be applied."""
    PRUNE = "prune"
    """At least one stale object could not be deleted."""
    HEALTH = "health"
    """A health wait failed or timed out."""
    STATUS = "status"
    """A status or Event write failed (counted per write)."""


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.revision = Gauge(
            "csops_sync_revision_info",
            "The revision last synced (value 1)",
            ["revision"],
            registry=self.registry,
        )
        self.leader = Gauge(
            "csops_leader",
            "1 while this replica may write (holds the Lease, or runs without election)",
            registry=self.registry,
        )
        self.managed = Gauge(
            "csops_objects_managed",
            "Objects in the inventory after the last pass",
            registry=self.registry,
        )
        self.applied = Counter(
            "csops_objects_applied_total",
            "Objects written by apply (created or configured)",
            registry=self.registry,
        )
        self.drifted = Counter(
            "csops_objects_drift_corrected_total",
            "Objects changed or deleted outside git and put back",
            registry=self.registry,
        )
        self.pruned = Counter(
            "csops_objects_pruned_total", "Objects pruned", registry=self.registry
        )
        self.kept = Gauge(
            "csops_objects_kept_in_use",
            "Objects gone from git but kept while a Cluster uses them",
            registry=self.registry,
        )
        self.errors = Counter(
            "csops_sync_errors_total",
            "Sync errors by kind (fetch, revision, api, apply, prune, health, status)",
            ["kind"],
            registry=self.registry,
        )
        for kind in ErrorKind:
            self.errors.labels(str(kind))
        self.duration = Histogram(
            "csops_reconcile_duration_seconds", "Duration of one sync pass", registry=self.registry
        )
        self.last_success = Gauge(
            "csops_sync_last_success_timestamp_seconds",
            "Unix time the last fully successful pass ended (0: none yet)",
            registry=self.registry,
        )
        self.stack_condition = Gauge(
            "csops_clusterstack_condition",
            "1 for the status a ClusterStack's condition has, 0 for the others "
            "(as Flux's gotk_reconcile_condition)",
            ["namespace", "name", "type", "status"],
            registry=self.registry,
        )
        self.webhooks = Counter(
            "csops_webhook_requests_total",
            "Webhook requests by result (accepted, rejected, replayed, stale, malformed, "
            "too_large, disabled)",
            ["result"],
            registry=self.registry,
        )
        for result in Result:
            self.webhooks.labels(str(result))
        self._last_revision: str | None = None
        self._stacks: set[tuple[str, str]] = set()

    def error(self, kind: ErrorKind, count: int = 1) -> None:
        self.errors.labels(str(kind)).inc(count)

    def set_revision(self, revision: str) -> None:
        if self._last_revision is not None and self._last_revision != revision:
            self.revision.remove(self._last_revision)
        self.revision.labels(revision).set(1)
        self._last_revision = revision

    def set_stacks(self, ready: Mapping[tuple[str, str], bool | None]) -> None:
        """Each ClusterStack's ``Ready`` (``None``: unknown); series of vanished ones go."""
        for namespace, name in self._stacks - set(ready):
            for status in CONDITION_STATUSES:
                self.stack_condition.remove(namespace, name, "Ready", status)
        for (namespace, name), value in ready.items():
            current = "Unknown" if value is None else str(value)
            for status in CONDITION_STATUSES:
                gauge = self.stack_condition.labels(namespace, name, "Ready", status)
                gauge.set(1 if status == current else 0)
        self._stacks = set(ready)

    def exposition(self) -> bytes:
        return bytes(generate_latest(self.registry))
