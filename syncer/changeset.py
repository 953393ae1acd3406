"""What an apply or a delete did, object by object: the change set (pure data, no I/O).

Actions are past tense, so a change set reads as a log line. Per-object failures are values
(an entry with ``FAILED`` and its error), never exceptions: a batch goes on past one bad object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from csops.syncer.health import Health
from csops.syncer.objects import ObjectId


class Action(StrEnum):
    """What happened to one object."""

    CREATED = "created"
    CONFIGURED = "configured"
    ADOPTED = "adopted"
    """An object that existed, not csops's, taken over with consent."""
    UNCHANGED = "unchanged"
    DELETED = "deleted"
    FAILED = "failed"


@dataclass
class Change:
    """One object's entry: its identity, the action, the live object as last seen, the error."""

    id: ObjectId
    action: Action
    live: dict[str, Any] | None = None
    error: str | None = None
    api_version: str = ""

    @property
    def changed(self) -> bool:
        """Whether this entry wrote the object."""
        return self.action in (Action.CREATED, Action.CONFIGURED, Action.ADOPTED)

    @property
    def version(self) -> str:
        """The API version part of ``api_version`` (``v1`` of ``apps/v1``)."""
        return self.api_version.rpartition("/")[2]


@dataclass
class ChangeSet:
    """Entries in the order they were made, and the waits that did not end Current."""

    entries: list[Change] = field(default_factory=list)
    unhealthy: dict[ObjectId, Health] = field(default_factory=dict)
    health_error: str | None = None
    refused: set[ObjectId] = field(default_factory=set)
    """Objects that exist, are another manager's, and were left alone (their entries failed)."""

    def by_id(self) -> dict[ObjectId, Change]:
        """The entries keyed by object (the last entry of an object wins)."""
        return {entry.id: entry for entry in self.entries}

    def with_action(self, *actions: Action) -> list[Change]:
        """The entries with one of ``actions``."""
        return [entry for entry in self.entries if entry.action in actions]

    @property
    def failed(self) -> list[Change]:
        """Entries that failed."""
        return self.with_action(Action.FAILED)

    @property
    def changed(self) -> list[Change]:
        """Entries that wrote their object."""
        return [entry for entry in self.entries if entry.changed]
