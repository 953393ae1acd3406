"""The one writer of status subresources and Events, for every object csops reports on.

A status is applied (server-side, field manager ``csops-status``) only when it differs from the
live one, conditions keeping their ``lastTransitionTime`` while their status holds, so a steady
state costs no writes. A write that fails never raises: it is logged and kept in
:attr:`StatusWriter.errors`, which the caller counts and reports.
"""

from __future__ import annotations

import socket
from typing import Any

from csops.syncer import logs
from csops.syncer.clock import SYSTEM, Clock, timestamp
from csops.syncer.conditions import with_transition_times, without_times
from csops.syncer.errors import ApiError
from csops.syncer.events import EventType, Reason, event_body
from csops.syncer.kube import Kube
from csops.syncer.objects import Reference


class StatusWriter:
    """Writes status and Events through one client; collects what could not be written."""

    def __init__(self, kube: Kube, *, component: str = "csops", clock: Clock = SYSTEM) -> None:
        self.kube = kube
        self.component = component
        self.clock = clock
        self.errors: list[str] = []
        self._instance = socket.gethostname()

    def _failed(self, what: str, exc: ApiError) -> None:
        message = f"{what}: {exc}"
        self.errors.append(message)
        logs.get().warning("cannot write status", extra={"error": message})

    def write(
        self,
        target: Reference,
        status: dict[str, Any],
        *,
        live: dict[str, Any] | None = None,
        stamp: str | None = None,
        partial: bool = False,
    ) -> bool:
        """Apply ``status`` to ``target`` when it differs from ``live`` (read when not given).

        ``stamp`` names a field set to the current time whenever the rest changed (kept
        otherwise, like a condition's ``lastTransitionTime``). ``partial``: the status holds
        only some fields, the others belong to someone else and are left as they are.
        True when a write was made; False when nothing changed, the object is gone or the
        write failed (then :attr:`errors` says why).
        """
        try:
            resource = self.kube.resource(target.api_version, target.kind)
            if live is None:
                live = self.kube.get_or_none(resource, target.namespace, target.name)
            if live is None:
                return False
            old = live.get("status") or {}
            now = timestamp(self.clock)
            new = {
                **status,
                "conditions": with_transition_times(
                    status.get("conditions") or [], old.get("conditions"), now
                ),
            }
            if stamp is not None and old.get(stamp):
                new[stamp] = old[stamp]
            before = {k: old[k] for k in new if k in old}
            before.setdefault("conditions", [])
            same_keys = partial or set(old) <= set(new)
            if without_times(new) == without_times(before) and same_keys:
                return False
            if stamp is not None:
                new[stamp] = now
            body = {**target.skeleton(), "status": new}
            self.kube.apply_status(resource, body)
        except ApiError as exc:
            self._failed(f"status of {target}", exc)
            return False
        return True

    def event(
        self,
        involved: dict[str, Any],
        reason: Reason,
        message: str,
        kind: EventType = EventType.NORMAL,
    ) -> None:
        """Record an Event about ``involved`` (best effort: a failure is collected, not raised)."""
        meta = involved.get("metadata") or {}
        body = event_body(
            involved,
            reason,
            message,
            kind,
            component=self.component,
            instance=self._instance,
            now=timestamp(self.clock),
        )
        try:
            self.kube.create_event(str(meta.get("namespace") or ""), body)
        except ApiError as exc:
            self._failed(f"event {reason} on {meta.get('name')}", exc)
