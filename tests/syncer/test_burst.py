"""A burst of file changes is over when it has been quiet for a moment, or has lasted too long;
the path watcher wakes the loop once per burst."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from csops.syncer.burst import Burst
from csops.syncer.watcher import PathWatcher


@pytest.mark.unit
def test_no_change_no_burst() -> None:
    burst = Burst(quiet=0.1, longest=1.0)
    assert burst.due() is None
    assert not burst.take(100.0)


@pytest.mark.unit
def test_a_burst_is_over_once_quiet() -> None:
    burst = Burst(quiet=0.1, longest=1.0)
    for t in (10.0, 10.05, 10.08):
        burst.change(t)
    assert burst.due() == pytest.approx(10.18)
    assert not burst.take(10.17)
    assert burst.take(10.18)
    assert burst.due() is None  # forgotten: the next change starts a new burst
    burst.change(11.0)
    assert burst.due() == pytest.approx(11.1)


@pytest.mark.unit
def test_a_burst_that_never_stops_is_over_after_the_longest() -> None:
    burst = Burst(quiet=0.1, longest=1.0)
    t = 20.0
    while t < 22.0:
        burst.change(t)
        if burst.take(t):
            break
        t += 0.05
    assert t == pytest.approx(21.0)


@pytest.mark.unit
def test_a_late_event_does_not_move_the_burst_back() -> None:
    burst = Burst(quiet=0.1, longest=1.0)
    burst.change(5.0)
    burst.change(4.9)  # delivered late: the burst still ends after its last change
    assert burst.due() == pytest.approx(5.1)


@pytest.mark.integration
def test_files_written_one_by_one_wake_the_loop_once_they_are_written(tmp_path: Path) -> None:
    """Forty files written 5 ms apart (real inotify events): the loop wakes after the last
    one, not forty times."""
    wakes: list[float] = []
    woken = threading.Event()

    def wake() -> None:
        wakes.append(time.monotonic())
        woken.set()

    watcher = PathWatcher(tmp_path, wake, quiet=0.5, longest=30.0)
    watcher.start()
    try:
        for i in range(40):
            (tmp_path / f"object-{i}.yaml").write_text(f"i: {i}\n", encoding="utf-8")
            time.sleep(0.005)
        last_write = time.monotonic()
        assert woken.wait(30), "no wake-up after the files were written"
        time.sleep(1.0)  # a second wake-up for this burst would come by now
    finally:
        watcher.stop()
    assert wakes[-1] >= last_write
    assert len(wakes) <= 3, f"{len(wakes)} wake-ups for one burst of 40 files"


@pytest.mark.integration
def test_a_watcher_stops_while_a_burst_is_pending(tmp_path: Path) -> None:
    watcher = PathWatcher(tmp_path, lambda: None, quiet=30.0, longest=60.0)
    watcher.start()
    (tmp_path / "x.yaml").write_text("x: 1\n", encoding="utf-8")
    time.sleep(0.2)
    watcher.stop()
    watcher._settler.join(5)
    assert not watcher._settler.is_alive()
