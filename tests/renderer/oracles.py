"""Go oracles for the renderer tests: small programs under ``hack/`` built with the machine's Go.

Each wraps the Go library csctl or CSO uses (``dirhash``; ``text/template`` with slim-sprig),
so a test can compare csops's Python result with what the upstream tools compute.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def go_build(name: str, destination: Path) -> Path:
    """Build ``hack/<name>`` into ``destination/<name>``; modules come from the Go proxy, cached."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "csops" / "go"
    env = {
        **os.environ,
        "GOMODCACHE": str(cache / "mod"),
        "GOCACHE": str(cache / "build"),
        "GOFLAGS": "-mod=mod",
    }
    binary = destination / name
    subprocess.run(
        ["go", "build", "-o", str(binary), "."],
        cwd=ROOT / "hack" / name,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return binary
