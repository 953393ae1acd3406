"""Prometheus metrics of the syncer (own registry, so tests and embedders do not collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.revision = Gauge(
            "csops_sync_revision_info",
            "Revision last applied",
            ["revision"],
            registry=self.registry,
        )
        self.applied = Counter(
            "csops_objects_applied_total", "Objects written by apply", registry=self.registry
        )
        self.pruned = Counter(
            "csops_objects_pruned_total", "Objects pruned", registry=self.registry
        )
        self.kept = Gauge(
            "csops_objects_kept_in_use", "Stale objects kept while in use", registry=self.registry
        )
        self.errors = Counter(
            "csops_sync_errors_total", "Failed sync passes", ["kind"], registry=self.registry
        )
        self.duration = Histogram(
            "csops_reconcile_duration_seconds", "Duration of one sync pass", registry=self.registry
        )
        self.webhooks = Counter(
            "csops_webhook_requests_total",
            "Webhook requests by result (accepted, rejected, disabled, too_large)",
            ["result"],
            registry=self.registry,
        )
        self.managed = Gauge(
            "csops_objects_managed", "Objects in the inventory", registry=self.registry
        )
        self._last_revision: str | None = None

    def set_revision(self, revision: str) -> None:
        if self._last_revision is not None and self._last_revision != revision:
            self.revision.remove(self._last_revision)
        self.revision.labels(revision).set(1)
        self._last_revision = revision

    def exposition(self) -> bytes:
        return bytes(generate_latest(self.registry))
