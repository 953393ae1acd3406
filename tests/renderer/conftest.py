"""Fixtures for renderer tests: a private copy of the example stacks and a CLI runner."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from csops import cli as cli_module

EXAMPLES = Path(__file__).resolve().parents[2] / "stacks"


@pytest.fixture
def stacks_repo(tmp_path: Path) -> Path:
    """A copy of ``stacks/`` without its rendered tree."""
    repo = tmp_path / "stacks"
    shutil.copytree(EXAMPLES, repo, ignore=shutil.ignore_patterns("rendered"))
    return repo


@pytest.fixture
def csops(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., Result]:
    """Run the ``csops`` CLI in-process; returns click's Result (exit code, stdout, stderr)."""
    monkeypatch.setenv("CSOPS_CACHE_DIR", str(tmp_path / "cache"))
    runner = CliRunner()

    def run(*args: str | Path) -> Result:
        return runner.invoke(cli_module.cli, [str(a) for a in args], catch_exceptions=False)

    return run


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file below a directory, to prove a failed command changed nothing."""
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }
