"""Fixtures for the git workflow: real repositories, a bare remote over file:// and git daemon."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from csops import cli as cli_module
from tests.polling import eventually

EXAMPLES = Path(__file__).resolve().parents[2] / "stacks"
IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.com",
}


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd``; its stdout, stripped. Fails the test on a non-zero exit."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout.strip()


def log(cwd: Path, ref: str = "HEAD") -> list[str]:
    """Subjects of ``ref``'s history, newest first."""
    return git(cwd, "log", "--format=%s", ref).splitlines()


def trailers(cwd: Path, ref: str = "HEAD") -> dict[str, str]:
    """The trailers of a commit message."""
    out = git(cwd, "log", "-1", "--format=%(trailers:only,unfold)", ref)
    return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)


def bump(stack: Path, old: str, new: str) -> None:
    """Change a stack source's csctl.yaml (a new Kubernetes patch: a new release)."""
    csctl = stack / "csctl.yaml"
    csctl.write_text(csctl.read_text().replace(old, new))


def offer(repo: Path, cluster_stack: str, version: str) -> None:
    """Add ``version`` to a ClusterStack's ``spec.versions``."""
    path = repo / "clusterstacks" / f"{cluster_stack}.yaml"
    text = path.read_text()
    assert "  versions:\n" in text
    path.write_text(text.replace("  versions:\n", f"  versions:\n    - {version}\n"))


@pytest.fixture(autouse=True)
def git_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user or system git config, a fixed identity, no CI variables."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("CSOPS_CACHE_DIR", str(tmp_path / "cache"))
    for key, value in IDENTITY.items():
        monkeypatch.setenv(key, value)
    for key in ("GITHUB_BASE_REF", "GITHUB_REF_NAME", "GIT_DIR", "GIT_INDEX_FILE"):
        monkeypatch.delenv(key, raising=False)
    (tmp_path / "gitconfig").write_text("[init]\n\tdefaultBranch = main\n")


@pytest.fixture
def csops() -> Callable[..., Result]:
    """Run the ``csops`` CLI in-process; returns click's Result."""
    runner = CliRunner()

    def run(*args: str | Path) -> Result:
        return runner.invoke(cli_module.cli, [str(a) for a in args], catch_exceptions=False)

    return run


def make_stacks(directory: Path) -> Path:
    """A copy of the example stacks without their rendered tree."""
    shutil.copytree(EXAMPLES, directory, ignore=shutil.ignore_patterns("rendered"))
    return directory


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """An empty bare repository: the remote."""
    path = tmp_path / "remote" / "stacks.git"
    path.parent.mkdir()
    git(path.parent, "init", "-q", "--bare", "-b", "main", path.name)
    return path


@pytest.fixture
def work(tmp_path: Path, origin: Path) -> Path:
    """A work tree with the example stacks committed and pushed to ``origin`` (file://)."""
    repo = make_stacks(tmp_path / "work")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "stacks: initial")
    git(repo, "remote", "add", "origin", origin.as_uri())
    git(repo, "push", "-q", "-u", "origin", "main")
    return repo


def clone(url: str, directory: Path) -> Path:
    """A fresh clone (as a CI job or a colleague has)."""
    git(directory.parent, "clone", "-q", url, directory.name)
    return directory


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def git_daemon(origin: Path) -> Iterator[str]:
    """``git daemon`` on loopback serving ``origin`` with push enabled; yields its URL."""
    base = origin.parent
    port = _free_port()
    proc = subprocess.Popen(
        [
            "git",
            "daemon",
            "--export-all",
            "--enable=receive-pack",
            "--reuseaddr",
            "--informative-errors",
            f"--base-path={base}",
            f"--port={port}",
            "--listen=127.0.0.1",
            str(base),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
    )

    def listening() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"git daemon exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError:
            return False
        return True

    try:
        eventually(listening, 10, "git daemon to listen")
        yield f"git://127.0.0.1:{port}/{origin.name}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def pre_push_race(repo: Path, other: Path, script: str) -> Path:
    """Install a pre-push hook in ``repo`` that, once, runs ``script`` in ``other``.

    The hook runs after csops rendered and committed and before its push reaches the
    remote: a colleague's commit lands in between, exactly the race ``--push`` must survive.
    Returns the marker file the hook leaves behind when it fired.
    """
    marker = repo.parent / f"{repo.name}.raced"
    hook = repo / ".git" / "hooks" / "pre-push"
    hook.write_text(
        "#!/bin/sh\n"
        "cat >/dev/null\n"
        "unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_PREFIX\n"
        f'[ -e "{marker}" ] && exit 0\n'
        f'touch "{marker}"\n'
        f'cd "{other}" || exit 1\n'
        f"( {script} ) >/dev/null 2>&1 || exit 1\n"
        "exit 0\n"
    )
    hook.chmod(0o755)
    return marker
