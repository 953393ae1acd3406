"""Tell drift from a change in git: what the last successful pass wanted, as digests (pure).

An object a pass had to write is *drift* (changed or deleted outside git) when git still
wants exactly what it wanted before: the revision is the same, or the object's desired body
has the same digest as at the last successful pass. Digests are taken only when the revision
changes, so a pass on the same revision costs nothing here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from csops.syncer.objects import ObjectId


def digest(body: dict[str, Any]) -> str:
    """A digest of an object's desired body, as it was read (keys in file order: YAML allows
    keys of mixed types, which cannot be sorted)."""
    text = json.dumps(body, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


class LastApplied:
    """The revision of the last successful pass and its objects' digests."""

    def __init__(self, revision: str | None = None) -> None:
        self.revision = revision
        """Known without digests after a restart: read from the inventory's last state."""
        self.digests: dict[ObjectId, str] = {}

    def drifted(
        self,
        revision: str,
        objects: Iterable[tuple[ObjectId, dict[str, Any]]],
        written: Iterable[ObjectId],
    ) -> set[ObjectId]:
        """Which of the ``written`` objects were drift, for a pass on ``revision``."""
        written = set(written)
        if revision == self.revision:
            return written
        if not written or not self.digests:
            return set()
        wanted = {oid: body for oid, body in objects if oid in written}
        return {
            oid
            for oid, body in wanted.items()
            if oid in self.digests and self.digests[oid] == digest(body)
        }

    def succeeded(self, revision: str, objects: Iterable[tuple[ObjectId, dict[str, Any]]]) -> None:
        """Remember a successful pass on ``revision`` (digests only when it is new)."""
        if revision != self.revision or not self.digests:
            self.digests = {oid: digest(body) for oid, body in objects}
        self.revision = revision
