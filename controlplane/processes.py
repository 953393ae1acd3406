"""Server processes in their own process group, logging to a file, with a pid file.

Each server is started with ``start_new_session=True`` so it (and anything it spawns) can be
signalled as one group and is not hit by the terminal's Ctrl-C. Optionally the kernel sends it
SIGKILL when the starting thread dies (``PR_SET_PDEATHSIG``), so a crashed or killed test run
leaves nothing behind; the detached dev cluster turns that off.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

PR_SET_PDEATHSIG = 1
STOP_TIMEOUT = 15.0
# resolved before any fork: dlopen in a forked child of a threaded process can deadlock
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl


def _die_with_parent() -> None:
    """preexec_fn: ask Linux to SIGKILL this child when its parent thread exits.

    SIGKILL, not SIGTERM: kube-apiserver drains gracefully for many seconds once etcd is gone,
    and a throwaway server of a crashed test run has nothing worth shutting down cleanly.
    """
    _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class ServerProcess:
    """One long-running server binary."""

    def __init__(
        self, name: str, argv: list[str], log_path: Path, pid_path: Path, *, tied: bool = True
    ) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.pid_path = pid_path
        self.tied = tied
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n==== {time.strftime('%F %T')} starting {self.name}\n".encode())
            log.flush()
            preexec: Callable[[], None] | None = _die_with_parent if self.tied else None
            self._popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=preexec,  # noqa: PLW1509 - a single prctl syscall
                close_fds=True,
            )
        self.pid_path.write_text(f"{self._popen.pid}\n")

    def alive(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def exit_code(self) -> int | None:
        return self._popen.poll() if self._popen is not None else None

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM the process group, wait, then SIGKILL it. Idempotent."""
        if self._popen is not None:
            stop_group(self._popen.pid, timeout, wait=self._popen.wait)
            self._popen = None
        self.pid_path.unlink(missing_ok=True)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def pid_alive(pid: int) -> bool:
    """True when ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def stop_group(pid: int, timeout: float, wait: Callable[[float], object] | None = None) -> None:
    """Terminate the process group led by ``pid``: SIGTERM, up to ``timeout`` s, then SIGKILL."""
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    if wait is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            wait(timeout)
    else:
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    _signal_group(pid, signal.SIGKILL)  # stragglers in the group, or a stuck leader
    if wait is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            wait(5.0)


def pid_runs(pid: int, executable_name: str) -> bool:
    """True when ``pid`` is alive and its command line starts with ``executable_name``.

    Guards against signalling an unrelated process that reused a stale pid.
    """
    if not pid_alive(pid):
        return False
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0].decode()
    except OSError:
        return False
    return Path(argv0).name == executable_name


def log_tail(path: Path, lines: int = 50) -> str:
    """The last ``lines`` lines of a log file ("" if it does not exist)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 256 * lines))
            data = handle.read()
    except OSError:
        return ""
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])
