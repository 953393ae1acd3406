"""Read the kube-apiserver audit log (JSON lines) and assert on requests made in a window.

The control plane writes every request at level ``Metadata`` (stage ``RequestReceived``
omitted), so each request shows up once, or twice for long-running ones (``ResponseStarted``
and ``ResponseComplete``); events are de-duplicated by audit ID, keeping the first position.

A *window* is delimited by two marker requests (a GET of a namespace with a unique name) that
the reader sends itself and waits to see in the log. Everything logged between them belongs to
the window, so a test can assert e.g. "zero writes by user csops while nothing changed"::

    with audit.window() as w:
        run_sync_once()
    assert w.writes(user="csops") == []
"""

from __future__ import annotations

import json
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
MARKER_PREFIX = "csops-audit-mark-"
MARKER_TIMEOUT = 15.0

POLICY: dict[str, Any] = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [{"level": "Metadata"}],
}


def write_policy(path: Path) -> Path:
    """Write the audit policy (every request at level Metadata) to ``path``."""
    path.write_text(yaml.safe_dump(POLICY, sort_keys=False))
    return path


@dataclass(frozen=True)
class AuditEvent:
    """The fields of one audit event that tests care about."""

    audit_id: str
    stage: str
    verb: str
    user: str
    groups: tuple[str, ...]
    resource: str
    subresource: str
    api_group: str
    namespace: str
    name: str
    request_uri: str
    status_code: int
    user_agent: str

    @property
    def is_write(self) -> bool:
        return self.verb in WRITE_VERBS

    @property
    def is_marker(self) -> bool:
        return self.name.startswith(MARKER_PREFIX)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuditEvent:
        """Build from one decoded log line; the impersonated user wins when present."""
        user = data.get("impersonatedUser") or data.get("user") or {}
        ref = data.get("objectRef") or {}
        status = data.get("responseStatus") or {}
        return cls(
            audit_id=str(data.get("auditID", "")),
            stage=str(data.get("stage", "")),
            verb=str(data.get("verb", "")),
            user=str(user.get("username", "")),
            groups=tuple(user.get("groups") or ()),
            resource=str(ref.get("resource", "")),
            subresource=str(ref.get("subresource", "")),
            api_group=str(ref.get("apiGroup", "")),
            namespace=str(ref.get("namespace", "")),
            name=str(ref.get("name", "")),
            request_uri=str(data.get("requestURI", "")),
            status_code=int(status.get("code", 0) or 0),
            user_agent=str(data.get("userAgent", "")),
        )


def select(
    events: Iterable[AuditEvent],
    *,
    user: str | None = None,
    verb: str | Iterable[str] | None = None,
    resource: str | None = None,
    namespace: str | None = None,
    name: str | None = None,
) -> list[AuditEvent]:
    """The events matching every given criterion (``verb`` may be one verb or several)."""
    verbs = {verb} if isinstance(verb, str) else (set(verb) if verb is not None else None)
    return [
        e
        for e in events
        if (user is None or e.user == user)
        and (verbs is None or e.verb in verbs)
        and (resource is None or e.resource == resource)
        and (namespace is None or e.namespace == namespace)
        and (name is None or e.name == name)
    ]


def _dedupe(events: Iterable[AuditEvent]) -> list[AuditEvent]:
    seen: dict[str, AuditEvent] = {}
    for event in events:
        if event.is_marker:
            continue
        seen.setdefault(event.audit_id, event)
    return list(seen.values())


class _EventQueries:
    """Queries shared by the whole log and by a window."""

    def events(self) -> list[AuditEvent]:
        raise NotImplementedError

    def requests(
        self,
        *,
        user: str | None = None,
        verb: str | Iterable[str] | None = None,
        resource: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
    ) -> list[AuditEvent]:
        """Requests (one event per audit ID, markers excluded) matching the criteria."""
        return select(
            self.events(), user=user, verb=verb, resource=resource, namespace=namespace, name=name
        )

    def writes(self, *, user: str | None = None, resource: str | None = None) -> list[AuditEvent]:
        """create/update/patch/delete/deletecollection requests, optionally by ``user``."""
        return self.requests(user=user, verb=WRITE_VERBS, resource=resource)

    def count_by_verb(self, *, user: str | None = None) -> Counter[str]:
        return Counter(e.verb for e in self.requests(user=user))

    def count_by_user(self, *, verb: str | Iterable[str] | None = None) -> Counter[str]:
        return Counter(e.user for e in self.requests(verb=verb))


class AuditLog(_EventQueries):
    """The audit log file of one kube-apiserver.

    ``marker`` is a callable that makes the server log a request for the given namespace name
    (the control plane sends a GET); it is needed only for :meth:`window`.
    """

    def __init__(self, path: Path, marker: Callable[[str], None] | None = None) -> None:
        self.path = path
        self._marker = marker

    def _lines(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int, str]]:
        """(offset, end offset, text) of every complete line in [start, end)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        limit = len(data) if end is None else min(end, len(data))
        offset = start
        while offset < limit:
            newline = data.find(b"\n", offset, limit)
            if newline < 0:
                return  # a line still being written
            yield offset, newline + 1, data[offset:newline].decode("utf-8", "replace")
            offset = newline + 1

    def _parse(self, start: int = 0, end: int | None = None) -> Iterator[AuditEvent]:
        for _, _, text in self._lines(start, end):
            if text.strip():
                yield AuditEvent.from_json(json.loads(text))

    def events(self) -> list[AuditEvent]:
        """Every request in the log, de-duplicated, markers excluded."""
        return _dedupe(self._parse())

    def events_between(self, start: int, end: int | None = None) -> list[AuditEvent]:
        """Requests logged between two byte offsets."""
        return _dedupe(self._parse(start, end))

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def mark(self) -> tuple[int, int]:
        """Send a marker request and wait until it is logged; returns its line's offsets."""
        if self._marker is None:
            raise RuntimeError("this AuditLog has no marker callable; windows are unavailable")
        name = MARKER_PREFIX + secrets.token_hex(6)
        search_from = self.size()
        self._marker(name)
        deadline = time.monotonic() + MARKER_TIMEOUT
        while True:
            for begin, finish, text in self._lines(search_from):
                if name in text:
                    return begin, finish
            if time.monotonic() > deadline:
                raise TimeoutError(f"audit marker {name} did not appear in {self.path}")
            time.sleep(0.02)

    @contextmanager
    def window(self) -> Iterator[AuditWindow]:
        """Delimit a stretch of requests; query the yielded window after the block."""
        _, start = self.mark()
        window = AuditWindow(self, start)
        try:
            yield window
        finally:
            end, _ = self.mark()
            window.close(end)


class AuditWindow(_EventQueries):
    """The requests logged between two markers (open until the ``with`` block ends)."""

    def __init__(self, log: AuditLog, start: int) -> None:
        self._log = log
        self.start = start
        self.end: int | None = None

    def close(self, end: int) -> None:
        self.end = end

    def events(self) -> list[AuditEvent]:
        """Requests in the window so far (up to now while it is still open)."""
        return self._log.events_between(self.start, self.end)
