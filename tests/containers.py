"""podman for tests, configured the way ``make images`` set it up (its containers.conf)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from csops import __version__

CSOPS_IMAGE = f"localhost/csops:{__version__}"
GIT_SERVER_IMAGE = f"localhost/csops-git-server:{__version__}"


def containers_conf() -> Path:
    """The containers.conf ``hack/images/build.py`` writes (same path rule)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "csops" / "images" / "containers.conf"


def podman_env(**extra: str) -> dict[str, str]:
    """The environment for podman and podman-compose; fails loudly before ``make images``."""
    conf = containers_conf()
    if shutil.which("podman") is None or not conf.is_file():
        pytest.fail(
            f"podman or {conf} is missing: run `make images` (as root it installs podman)",
            pytrace=False,
        )
    return {**os.environ, "CONTAINERS_CONF": str(conf), **extra}


def podman(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", *map(str, args)],
        env=podman_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def require_image(tag: str) -> dict[str, object]:
    """``podman image inspect`` of an image ``make images`` builds."""
    done = podman("image", "inspect", tag)
    if done.returncode != 0:
        pytest.fail(f"image {tag} is missing: run `make images`\n{done.stderr}", pytrace=False)
    inspected: list[dict[str, object]] = json.loads(done.stdout)
    return inspected[0]
