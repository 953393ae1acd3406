"""The one adapter to time: wall clock, monotonic clock, sleeping and timestamps.

Everything in the syncer that reads the time or waits takes a :class:`Clock` (default
:data:`SYSTEM`), so tests can run timeouts and backoffs without waiting for them.
"""

from __future__ import annotations

import datetime
import random
import time
from typing import Protocol


class Clock(Protocol):
    """What the syncer needs of time."""

    def time(self) -> float:
        """Wall-clock seconds since the epoch (for timestamps and recorded ``since`` values)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for deadlines and intervals)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


SYSTEM: Clock = SystemClock()


def timestamp(clock: Clock) -> str:
    """The clock's wall time as a Kubernetes timestamp (RFC 3339, seconds, UTC)."""
    moment = datetime.datetime.fromtimestamp(clock.time(), datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_timestamp(seconds: float) -> str:
    """``seconds`` as a Kubernetes MicroTime (RFC 3339 with microseconds, UTC)."""
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text: str | None) -> float:
    """Seconds since the epoch of an RFC 3339 timestamp (0 for none)."""
    if not text:
        return 0.0
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def backoff(failures: int, base: float = 1.0, cap: float = 300.0) -> float:
    """Exponential backoff with jitter on the upper half: ``failures`` ≥ 1 failed attempts."""
    delay = min(cap, base * 2 ** max(0, failures - 1))
    return float(delay / 2 + random.random() * delay / 2)
