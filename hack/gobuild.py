"""What the build scripts under ``hack/`` share: Go environment, cache, lock, stamp and progress.

Standard library only. Every build goes through the Go module proxy into a per-user cache,
``${XDG_CACHE_HOME:-~/.cache}/csops/``, with the Go module and build caches under ``go/`` so an
interrupted build resumes where it stopped. A stamp file makes a warm run a no-op, and an
exclusive ``flock`` keeps concurrent callers from building twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

STAMP_NAME = ".stamp.json"

Say = Callable[[str], None]


class BuildError(Exception):
    """A build step failed; the message says which and how to retry."""


def reporter(tag: str) -> Say:
    """A ``say(message)`` that prints ``[tag] message`` at once."""

    def say(message: str) -> None:
        print(f"[{tag}] {message}", flush=True)

    return say


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "csops"


def go_env(gocache_root: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        GOPATH=str(gocache_root),
        GOMODCACHE=str(gocache_root / "mod"),
        GOCACHE=str(gocache_root / "build"),
        GOFLAGS="-mod=mod",
        GOTOOLCHAIN="local",
        GOWORK="off",
        CGO_ENABLED="0",
    )
    env.update(extra)
    return env


def go_version(fallback_hint: str) -> str:
    """``go env GOVERSION`` (e.g. ``go1.26.8``); ``fallback_hint`` says what to do without Go."""
    if shutil.which("go") is None:
        raise BuildError(f"`go` is not on PATH; install Go >= 1.26 or {fallback_hint}")
    return subprocess.run(
        ["go", "env", "GOVERSION"], check=True, capture_output=True, text=True
    ).stdout.strip()


def run(cmd: list[str], *, cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(cmd, check=False, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"`{' '.join(cmd)}` failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc.stdout


def build_binary(
    name: str, pkg: str, out: Path, *, cwd: Path, env: dict[str, str], ldflags: str, say: Say
) -> None:
    """go build with -v, printing a progress line every 100 compiled packages."""
    tmp = out.with_name(out.name + ".partial")
    cmd = ["go", "build", "-v", "-trimpath", "-ldflags", ldflags, "-o", str(tmp), pkg]
    say(f"building {name} ({pkg})")
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    tail: list[str] = []
    compiled = 0
    for line in proc.stdout:
        tail = [*tail[-60:], line.rstrip()]
        if re.match(r"^[\w.\-/]+$", line.strip()):
            compiled += 1
            if compiled % 100 == 0:
                say(f"  {name}: {compiled} packages compiled ({time.monotonic() - started:.0f}s)")
    if proc.wait() != 0:
        raise BuildError(f"building {name} failed:\n" + "\n".join(tail))
    tmp.replace(out)
    say(f"built {name} in {time.monotonic() - started:.0f}s ({out.stat().st_size >> 20} MiB)")


def smoke_test(binary: Path, *args: str) -> str:
    """The first line ``binary args…`` prints (default ``--version``); fails on a non-zero exit."""
    argv = [str(binary), *(args or ("--version",))]
    proc = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise BuildError(f"{' '.join(argv)} failed: {proc.stderr.strip()[-2000:]}")
    return ((proc.stdout or proc.stderr).strip().splitlines() or [""])[0]


@contextlib.contextmanager
def exclusive_lock(path: Path, say: Say) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"another build holds {path}; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def stamp_matches(stamp: Path, expected: dict[str, object], binaries: list[str]) -> bool:
    try:
        data = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    if any(data.get(k) != v for k, v in expected.items()):
        return False
    return all((stamp.parent / b).is_file() for b in binaries) and set(binaries) <= set(
        data.get("binaries", [])
    )


def write_stamp(stamp: Path, data: dict[str, object]) -> None:
    """Write the stamp atomically: it is the last step of a successful build."""
    partial = stamp.with_name(STAMP_NAME + ".partial")
    partial.write_text(json.dumps(data, indent=2) + "\n")
    partial.replace(stamp)
