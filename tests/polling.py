"""The one way tests wait for something: poll a check until it holds, or fail saying what."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def eventually(check: Callable[[], T], timeout: float = 30.0, what: str = "condition") -> T:
    """Poll ``check`` until it returns something truthy and return that; fail on timeout.

    The delay between polls grows from 20 ms to 250 ms, so a quick condition is seen quickly
    and a slow one does not keep a core busy.
    """
    deadline = time.monotonic() + timeout
    delay = 0.02
    last: T = check()
    while not last:
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout:g}s waiting for {what} (last: {last!r})")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)
        last = check()
    return last
