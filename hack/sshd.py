#!/usr/bin/env python3
"""Debian's OpenSSH server for the git-over-SSH tests, unpacked into the csops cache.

Standard library only. ``apt-get download`` fetches ``openssh-server`` (and ``libwrap0``, the
one library it needs that a Debian system with the OpenSSH client may lack) from the
machine's Debian mirror; ``dpkg-deb -x`` unpacks them into

    ${XDG_CACHE_HOME:-~/.cache}/csops/sshd/<version>/   (the epoch's ':' written as '_')

Nothing is installed system-wide and no service is started: the tests run this ``sshd`` on a
free loopback port with their own configuration and stop it by its PID. A stamp file makes a
warm run a no-op. When it runs as root (CI does), OpenSSH's privilege separation needs the
system user ``sshd`` and the directory ``/run/sshd``; they are created here, as Debian's own
package does on installation.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

PACKAGES = ("openssh-server", "libwrap0")
STAMP = ".stamp.json"


def say(message: str) -> None:
    print(f"[sshd] {message}", flush=True)


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "csops" / "sshd"


def _candidate() -> str | None:
    out = subprocess.run(
        ["apt-cache", "policy", "openssh-server"], check=True, capture_output=True, text=True
    ).stdout
    for line in out.splitlines():
        if line.strip().startswith("Candidate:"):
            version = line.split(":", 1)[1].strip()
            if version and version != "(none)":
                return version
    return None


def candidate_version() -> str:
    """The version of openssh-server apt would install (the cache key); as root, the package
    lists are fetched first when apt knows none (a fresh CI machine)."""
    version = _candidate()
    if version is None and os.geteuid() == 0:
        say("apt-get update (no package lists yet)")
        subprocess.run(["apt-get", "update", "-q"], check=True)
        version = _candidate()
    if version is None:
        raise SystemExit("[sshd] apt knows no openssh-server; run `apt-get update` first")
    return version


def privilege_separation() -> None:
    """As root: the ``sshd`` user and ``/run/sshd`` that Debian's package would create."""
    if os.geteuid() != 0:
        return
    try:
        pwd.getpwnam("sshd")
    except KeyError:
        say("creating the system user sshd (OpenSSH privilege separation)")
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--home-dir",
                "/run/sshd",
                "--shell",
                "/usr/sbin/nologin",
                "sshd",
            ],
            check=True,
        )
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)


def fetch(target: Path, version: str) -> None:
    """Download the packages and unpack them into ``target`` (atomically renamed)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".fetch-") as tmp:
        work = Path(tmp)
        say(f"apt-get download {' '.join(PACKAGES)} ({version})")
        subprocess.run(
            ["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", *PACKAGES],
            cwd=work,
            check=True,
        )
        root = work / "root"
        for deb in sorted(work.glob("*.deb")):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        (root / STAMP).write_text(json.dumps({"version": version}) + "\n")
        if target.exists():
            shutil.rmtree(target)
        root.replace(target)


@contextlib.contextmanager
def exclusive(lock: Path) -> Iterator[None]:
    """One fetch at a time per cache (several engineers may run the suite at once)."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def main() -> int:
    if shutil.which("apt-get") is None and not Path("/usr/sbin/sshd").exists():
        say("neither apt-get nor /usr/sbin/sshd: install OpenSSH's server to run the SSH tests")
        return 1
    privilege_separation()
    if Path("/usr/sbin/sshd").exists():
        say("using the installed /usr/sbin/sshd")
        return 0
    version = candidate_version()
    target = cache_dir() / version.replace(":", "_")  # a ':' would split LD_LIBRARY_PATH
    with exclusive(cache_dir() / ".lock"):
        if (target / STAMP).is_file():
            say(f"up to date: {target}")
            return 0
        fetch(target, version)
    say(f"ready: {target / 'usr/sbin/sshd'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
