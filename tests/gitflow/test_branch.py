"""``csops render --branch``: the rendered tree on its own branch, work tree untouched."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.gitflow.conftest import bump, clone, git, log, offer, trailers

pytestmark = pytest.mark.integration

Csops = Callable[..., Result]
ALDER_29 = Path("providers/docker/alder/1-29")


def _state(repo: Path) -> tuple[str, str, str, str]:
    return (
        git(repo, "rev-parse", "HEAD"),
        git(repo, "symbolic-ref", "HEAD"),
        git(repo, "status", "--porcelain", "--untracked-files=all"),
        git(repo, "ls-files", "--stage"),
    )


def test_separate_branch(csops: Csops, work: Path) -> None:
    before = _state(work)
    result = csops("render", "--branch", "rendered", work)
    assert result.exit_code == 0, result.output
    assert _state(work) == before  # HEAD, branch, index and work tree untouched
    assert not (work / "rendered").exists()

    source = git(work, "rev-parse", "HEAD")
    assert git(work, "rev-list", "--count", "rendered") == "1"  # its own history: a root commit
    assert git(work, "ls-tree", "--name-only", "rendered") == "rendered"
    assert git(work, "ls-tree", "--name-only", "rendered:rendered").splitlines() == [
        "manifests",
        "releases",
        "render.lock",
    ]
    assert trailers(work, "rendered")["Source-Commit"] == source
    assert f"Rendered from {source[:12]} (stacks: initial)." in git(
        work, "log", "-1", "--format=%b", "rendered"
    )

    again = csops("render", "--branch", "rendered", work)
    assert "nothing to commit: rendered already has this render" in again.output
    assert git(work, "rev-list", "--count", "rendered") == "1"

    # a source change: a new commit on the rendered branch, on top of the previous one,
    # cutting v2 from the branch's own ledger (the work tree has no rendered tree at all)
    bump(work / ALDER_29, "v1.29.4", "v1.29.5")
    offer(work, "docker-alder-1-29", "v2")
    git(work, "commit", "-q", "-am", "alder 1.29.5")
    result = csops("render", "--branch", "rendered", work)
    assert result.exit_code == 0, result.output
    assert "release docker-alder-1-29-v2 cut" in result.output
    assert log(work, "rendered")[0] == (
        "render: 1 release added (docker-alder-1-29-v2), 1 stack changed"
    )
    assert trailers(work, "rendered")["Source-Commit"] == git(work, "rev-parse", "HEAD")
    assert git(work, "rev-list", "--count", "rendered") == "2"
    assert not (work / "rendered").exists()


def test_branch_at_root_and_push_over_git_daemon(
    csops: Csops, work: Path, git_daemon: str, tmp_path: Path
) -> None:
    result = csops("render", "--branch", "deploy", "--branch-path", ".", "--push", git_daemon, work)
    assert result.exit_code == 0, result.output
    assert "pushed" in result.output
    assert git(work, "ls-tree", "--name-only", "deploy").splitlines() == [
        "manifests",
        "releases",
        "render.lock",
    ]
    # a CI job in a fresh clone finds the branch on the remote and adds to its history
    ci = clone(git_daemon, tmp_path / "ci")
    remote_head = git(ci, "rev-parse", "origin/deploy")
    bump(ci / ALDER_29, "v1.29.4", "v1.29.5")
    git(ci, "commit", "-q", "-am", "alder 1.29.5")
    result = csops("render", "--branch", "deploy", "--branch-path", ".", "--push", git_daemon, ci)
    assert result.exit_code == 0, result.output
    git(ci, "fetch", "-q", "origin")
    assert git(ci, "rev-parse", "origin/deploy^") == remote_head
    assert "releases/docker-alder-1-29-v1" in git(
        ci, "ls-tree", "-r", "--name-only", "origin/deploy"
    )
    assert "docker-alder-1-29-v2" in git(ci, "ls-tree", "--name-only", "origin/deploy:releases")
