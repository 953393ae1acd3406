"""Test doubles for time: a clock that moves only when told to, and one whose wall time does."""

from __future__ import annotations

from csops.syncer.clock import SystemClock


class FakeClock:
    """A :class:`~csops.syncer.clock.Clock` that advances only by ``sleep`` and ``advance``."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


class WallClock(SystemClock):
    """Real intervals and sleeps, but a wall time (``now``) the test sets: for recorded
    timestamps such as an upgrade gate's start, while a controller loop keeps running."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def time(self) -> float:
        return self.now
