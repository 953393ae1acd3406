"""How much one render may take: time per Helm render, bytes per object and per release.

A template can loop for minutes or emit gigabytes (``range until 10000000``); these bounds turn
that into a clear error naming the chart. The CLI sets them from its flags for the duration of
a command (:func:`applied`); the defaults hold everywhere else. Kubernetes refuses an object
over about 1.5 MiB anyway, so the object limit only makes the refusal early and readable.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    render_timeout: float = 300.0
    """Seconds one Helm render may take (``--render-timeout``)."""
    max_object_bytes: int = 3 * MIB // 2
    """Bytes of one rendered object (``--max-object-size``)."""
    max_release_bytes: int = 64 * MIB
    """Bytes one chart render may produce in all (``--max-release-size``)."""


DEFAULT = Limits()
_current: contextvars.ContextVar[Limits | None] = contextvars.ContextVar("limits", default=None)


def current() -> Limits:
    """The limits in force."""
    return _current.get() or DEFAULT


@contextmanager
def applied(limits: Limits) -> Iterator[Limits]:
    """Put ``limits`` in force for the duration of a ``with`` block."""
    token = _current.set(limits)
    try:
        yield limits
    finally:
        _current.reset(token)


def size(n: int) -> str:
    """Bytes as MiB with one decimal, or bytes below 1 MiB."""
    return f"{n / MIB:.1f} MiB" if n >= MIB else f"{n} bytes"
