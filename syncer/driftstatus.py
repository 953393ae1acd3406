"""A ClusterStack's record of drift: ``status.drift`` and the ``DriftCorrected`` Event (pure).

Both a pass and a repair between passes (:mod:`csops.syncer.repair`) put back objects changed
or deleted outside git; each correction is counted on in ``status.drift`` (how many so far, the
last one's time and objects) and told in a Warning Event on the ClusterStack they belong to.
(:func:`csops.syncer.repair.repaired_status` makes the update of a repair.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from csops.syncer.events import EventType, Reason
from csops.syncer.objects import ObjectId

LISTED_OBJECTS = 10


def listed(ids: Sequence[ObjectId] | Sequence[str], limit: int = LISTED_OBJECTS) -> str:
    """``a, b, c and 4 more``: what an Event or a message names."""
    names = sorted(str(i) for i in ids)
    text = ", ".join(names[:limit])
    return f"{text} and {len(names) - limit} more" if len(names) > limit else text


def record(live: dict[str, Any] | None, drifted: Sequence[ObjectId], now: str) -> dict[str, Any]:
    """``status.drift``: corrections so far, and the last one's time and objects."""
    old = dict(((live or {}).get("status") or {}).get("drift") or {})
    if not drifted:
        return old
    names = sorted(str(oid) for oid in drifted)
    return {
        "corrections": int(old.get("corrections") or 0) + len(drifted),
        "lastTime": now,
        "lastObjects": names[:LISTED_OBJECTS],
    }


def event(drifted: Sequence[ObjectId]) -> tuple[Reason, str, EventType]:
    """The ``DriftCorrected`` Event of objects put back."""
    return (
        Reason.DRIFT_CORRECTED,
        f"put back {len(drifted)} object(s) changed or deleted outside git: {listed(drifted)}",
        EventType.WARNING,
    )
