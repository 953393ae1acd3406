"""When a burst of changes is over: quiet for a moment, or going on for too long.

An editor saving a tree, ``git checkout`` or a script rewriting files one by one makes dozens
of file events in a fraction of a second. A pass started at the first of them reads the tree
half-written and can fail on what is only a moment from consistent; one started when the
events stop reads it whole. A burst that never stops still ends after :attr:`Burst.longest`
seconds, so a busy directory delays syncing, never prevents it.
"""

from __future__ import annotations

from dataclasses import dataclass

QUIET_S = 0.15
"""Seconds without a change after which a burst is over."""
LONGEST_S = 1.0
"""Seconds after its first change after which a burst counts as over anyway."""


@dataclass
class Burst:
    """The changes seen since the last burst ended (times on a monotonic clock)."""

    quiet: float = QUIET_S
    longest: float = LONGEST_S
    first: float | None = None
    last: float = 0.0

    def change(self, now: float) -> None:
        """A change was seen at ``now``."""
        if self.first is None:
            self.first = now
        self.last = max(self.last, now)

    def due(self) -> float | None:
        """When the burst is over if nothing else changes (``None``: no burst)."""
        if self.first is None:
            return None
        return min(self.last + self.quiet, self.first + self.longest)

    def take(self, now: float) -> bool:
        """Whether the burst is over at ``now``; if so it is forgotten (the next change starts
        a new one)."""
        due = self.due()
        if due is None or now < due:
            return False
        self.first = None
        return True
