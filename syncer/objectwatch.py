"""Watch a set of objects and hand over each new state as it arrives.

The health wait uses it instead of polling: per REST resource and namespace, the objects'
current state is listed once (selected by the engine's ownership labels) and a watch continues
from that list's resourceVersion, so no change between the list and the watch is lost, and a
wait ends when the last object becomes ready rather than at the next poll. Watching per
namespace keeps to what a namespace-scoped identity may read. The watches run on daemon
threads; :meth:`ObjectWatch.close` stops them (each ends at its next event or server-side
timeout, at most ``rewatch_seconds`` later, and sends no request after that). A watch the
server refuses (forbidden, not watchable) sets :attr:`ObjectWatch.broken`, and the caller
falls back to reading the objects again.
"""

from __future__ import annotations

import queue
import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from csops.syncer.errors import ApiError, UnreachableError
from csops.syncer.health import RECHECK
from csops.syncer.kube import Kube
from csops.syncer.objects import Resource

Event = tuple[str, dict[str, Any] | None]
Keys = dict[tuple[str | None, str], str]

# Statuses that a retry does not cure: unauthorized, forbidden, no such resource, not watchable.
REFUSED = frozenset({401, 403, 404, 405})


@dataclass(frozen=True)
class Target:
    """One watched object: its resource, namespace (``None`` when cluster-scoped) and name."""

    resource: Resource
    namespace: str | None
    name: str


def _identity(obj: dict[str, Any]) -> tuple[str | None, str]:
    meta = obj.get("metadata") or {}
    return meta.get("namespace") or None, str(meta.get("name", ""))


class ObjectWatch:
    """Delivers ``(key, object)`` whenever a watched object changes (``None``: deleted)."""

    def __init__(
        self,
        kube: Kube,
        targets: dict[str, Target],
        *,
        label_selector: str | None,
        rewatch_seconds: int = 10,
    ) -> None:
        self._kube = kube
        self._selector = label_selector
        self._rewatch = rewatch_seconds
        self._events: queue.Queue[Event] = queue.Queue()
        self._stop = threading.Event()
        self.broken = threading.Event()
        groups: dict[tuple[Resource, str | None], Keys] = defaultdict(dict)
        for key, target in targets.items():
            groups[(target.resource, target.namespace)][(target.namespace, target.name)] = key
        self._threads = [
            threading.Thread(
                target=self._run,
                args=(resource, namespace, keys),
                name=f"csops-health-watch-{resource.plural}",
                daemon=True,
            )
            for (resource, namespace), keys in groups.items()
        ]
        for thread in self._threads:
            thread.start()

    def _offer(self, keys: Keys, obj: dict[str, Any] | None, ident: tuple[str | None, str]) -> None:
        key = keys.get(ident)
        if key is not None:
            self._events.put((key, obj))

    def _list(self, resource: Resource, namespace: str | None, keys: Keys) -> str:
        """Offer every watched object's current state (``None`` when absent); the list's version."""
        listing = self._kube.list(resource, namespace=namespace, label_selector=self._selector)
        listed = set()
        for item in listing.items:
            ident = _identity(item)
            listed.add(ident)
            self._offer(keys, item, ident)
        for gone in set(keys) - listed:
            self._offer(keys, None, gone)
        return listing.resource_version

    def _run(self, resource: Resource, namespace: str | None, keys: Keys) -> None:
        version = ""
        while not self._stop.is_set():
            try:
                if not version:
                    version = self._list(resource, namespace, keys)
                for kind, obj in self._kube.watch(
                    resource,
                    namespace=namespace,
                    label_selector=self._selector,
                    resource_version=version,
                    timeout_seconds=self._rewatch,
                ):
                    if self._stop.is_set():
                        return
                    if kind == "ERROR":  # e.g. 410 Gone: too old; list again
                        version = ""
                        break
                    version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                    if kind == "DELETED":
                        self._offer(keys, None, _identity(obj))
                    elif kind in ("ADDED", "MODIFIED"):
                        self._offer(keys, obj, _identity(obj))
            except UnreachableError:
                if self._stop.wait(0.2):  # the server restarts or is briefly unreachable
                    return
                version = ""
            except ApiError as exc:
                if exc.status in REFUSED:
                    self.broken.set()
                    self._events.put((RECHECK, None))  # wakes a waiting next()
                    return
                if self._stop.wait(0.2):
                    return
                version = ""

    def next(self, timeout: float) -> Event | None:
        """The next change, or ``None`` when none arrived within ``timeout`` seconds; once a
        watch was refused, ``(RECHECK, None)`` (read the objects instead)."""
        if self.broken.is_set():
            return (RECHECK, None)
        try:
            return self._events.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None

    def close(self) -> None:
        """Stop watching; the threads end on their own without another request."""
        self._stop.set()
