"""The one adapter to watchdog: wake the loop when a burst of changes below a local source
path is over (:mod:`csops.syncer.burst`), not at its first file event."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from csops.syncer.burst import LONGEST_S, QUIET_S, Burst


class _Changes(FileSystemEventHandler):
    def __init__(self, changed: Callable[[], None]) -> None:
        self._changed = changed

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        self._changed()


class PathWatcher:
    """Calls ``wake`` once per burst of changes below ``path`` (on its own thread)."""

    def __init__(
        self,
        path: Path,
        wake: Callable[[], None],
        *,
        quiet: float = QUIET_S,
        longest: float = LONGEST_S,
    ) -> None:
        self._wake = wake
        self._burst = Burst(quiet, longest)
        self._lock = threading.Lock()
        self._pending = threading.Event()
        self._stopped = threading.Event()
        self._observer = Observer()
        self._observer.schedule(_Changes(self._changed), str(path), recursive=True)
        self._settler = threading.Thread(target=self._settle, name="csops-path-watch", daemon=True)

    def start(self) -> None:
        self._observer.daemon = True
        self._observer.start()
        self._settler.start()

    def stop(self) -> None:
        self._stopped.set()
        self._pending.set()
        self._observer.stop()

    def _changed(self) -> None:
        with self._lock:
            self._burst.change(time.monotonic())
        self._pending.set()

    def _settle(self) -> None:
        """Wait for a burst, then for its end; wake the loop; again."""
        while self._pending.wait() and not self._stopped.is_set():
            with self._lock:
                now = time.monotonic()
                over = self._burst.take(now)
                due = self._burst.due()
                if due is None:  # over, or a change already counted in the burst taken before
                    self._pending.clear()  # a change after this sets it again
            if over:
                self._wake()
            elif due is not None and self._stopped.wait(max(0.0, due - now)):
                return
