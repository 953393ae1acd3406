"""Drift: watch every managed kind (label-selected to our ApplySet) and the Clusters; any event
wakes the loop, whose next pass puts hand edits and deletes back (a pass with nothing to do
makes no writes)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from csops.syncer import logs
from csops.syncer.errors import ApiError
from csops.syncer.kube import Kube
from csops.syncer.objects import Resource

RETRY_DELAY = 1.0


class DriftWatch:
    def __init__(
        self, kube: Kube, on_event: Callable[[str, dict[str, Any]], None], stop: threading.Event
    ) -> None:
        self.kube = kube
        self.on_event = on_event
        self.stop = stop
        self._watched: set[tuple[Resource, str | None]] = set()

    def watch(self, resource: Resource, selector: str | None) -> None:
        """Start watching; the first list happens here, so every later change is streamed."""
        key = (resource, selector)
        if key in self._watched:
            return
        try:
            version = self.kube.list(resource, label_selector=selector).resource_version
        except ApiError as exc:
            logs.get().debug("list of %s failed: %s", resource.plural, exc)
            version = ""
        self._watched.add(key)
        thread = threading.Thread(
            target=self._loop,
            args=(resource, selector, version),
            daemon=True,
            name=f"watch-{resource.plural}",
        )
        thread.start()

    def _loop(self, resource: Resource, selector: str | None, version: str) -> None:
        while not self.stop.is_set():
            try:
                if not version:
                    version = self.kube.list(resource, label_selector=selector).resource_version
                for kind, obj in self.kube.watch(
                    resource, label_selector=selector, resource_version=version, timeout_seconds=60
                ):
                    if self.stop.is_set():
                        return
                    if kind == "ERROR":
                        version = ""
                        break
                    meta = obj.get("metadata") or {}
                    version = str(meta.get("resourceVersion") or version)
                    if kind in ("ADDED", "MODIFIED", "DELETED"):
                        self.on_event(kind, obj)
            except ApiError as exc:
                logs.get().debug("watch of %s failed: %s", resource.plural, exc)
                version = ""
                self.stop.wait(RETRY_DELAY)
