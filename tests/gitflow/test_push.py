"""``csops render --commit --push``: bounded retries when the remote moved, never a force push."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.gitflow.conftest import (
    bump,
    clone,
    git,
    log,
    make_stacks,
    offer,
    pre_push_race,
    trailers,
)

pytestmark = pytest.mark.integration

Csops = Callable[..., Result]
ALDER_29 = Path("providers/docker/alder/1-29")
ALDER_30 = Path("providers/docker/alder/1-30")
FIRST_RENDER = (
    "render: 3 releases added (docker-alder-1-29-v1, docker-alder-1-30-v1, …), 3 stacks changed"
)


def _ancestor(repo: Path, a: str, b: str) -> bool:
    import subprocess

    return (
        subprocess.run(
            ["git", "merge-base", "--is-ancestor", a, b], cwd=repo, check=False
        ).returncode
        == 0
    )


def test_push_plain(csops: Csops, work: Path, origin: Path) -> None:
    result = csops("render", work, "--commit", "--push")
    assert result.exit_code == 0, result.output
    assert "pushed" in result.output and "origin main" in result.output
    assert git(origin, "rev-parse", "main") == git(work, "rev-parse", "HEAD")
    again = csops("render", work, "--commit", "--push")
    assert again.exit_code == 0
    assert "already at" in again.output


def test_push_race_with_a_source_change_renders_again(
    csops: Csops, work: Path, origin: Path, git_daemon: str, tmp_path: Path
) -> None:
    """A colleague's source change lands between our render and our push (over git daemon)."""
    git(work, "remote", "set-url", "origin", git_daemon)
    assert csops("render", work, "--commit", "--push").exit_code == 0
    colleague = clone(git_daemon, tmp_path / "colleague")
    # our source change, merged (pushed) before the post-merge render runs
    bump(work / ALDER_29, "v1.29.4", "v1.29.5")
    offer(work, "docker-alder-1-29", "v2")
    git(work, "commit", "-q", "-am", "alder 1.29.5")
    git(work, "push", "-q", "origin", "main")
    ours = git(work, "rev-parse", "HEAD")
    marker = pre_push_race(
        work,
        colleague,
        "git pull -q --rebase origin main && "
        "sed -i s/v1.30.2/v1.30.3/ providers/docker/alder/1-30/csctl.yaml && "
        "git commit -q -am 'alder 1.30.3' && git push -q origin main",
    )
    assert "v1.30.2" in (work / ALDER_30 / "csctl.yaml").read_text()

    result = csops("render", work, "--commit", "--push")
    assert result.exit_code == 0, result.output
    assert marker.exists(), "the race was not injected"
    assert "stacks changed" in result.output and "rendering them again" in result.output

    theirs = git(colleague, "rev-parse", "HEAD")
    remote = git(origin, "rev-parse", "main")
    assert git(work, "rev-parse", "HEAD") == remote
    # both commits are in the remote's history: nothing lost, nothing forced
    assert _ancestor(origin, ours, remote) and _ancestor(origin, theirs, remote)
    assert log(origin, "main") == [
        "render: 2 releases added (docker-alder-1-29-v2, docker-alder-1-30-v2), 2 stacks changed",
        "alder 1.30.3",
        "alder 1.29.5",
        FIRST_RENDER,
        "stacks: initial",
    ]
    assert trailers(origin, "main")["Source-Commit"] == theirs
    names = git(origin, "ls-tree", "--name-only", "main:rendered/releases").splitlines()
    assert "docker-alder-1-29-v2" in names and "docker-alder-1-30-v2" in names


def test_push_race_outside_the_stacks_rebases_the_render(
    csops: Csops, tmp_path: Path, origin: Path
) -> None:
    """The remote gains a commit that does not touch the stacks: the render commit is replayed."""
    top = tmp_path / "mono"
    top.mkdir()
    make_stacks(top / "stacks")
    (top / "NOTES.md").write_text("notes\n")
    git(top, "init", "-q", "-b", "main")
    git(top, "add", "-A")
    git(top, "commit", "-q", "-m", "initial")
    git(top, "remote", "add", "origin", origin.as_uri())
    git(top, "push", "-q", "-u", "origin", "main")
    colleague = clone(origin.as_uri(), tmp_path / "colleague")
    marker = pre_push_race(
        top,
        colleague,
        "echo more >> NOTES.md && git commit -q -am 'notes' && git push -q origin main",
    )
    result = csops("render", top / "stacks", "--commit", "--push")
    assert result.exit_code == 0, result.output
    assert marker.exists()
    assert "rebased the render" in result.output
    assert log(origin, "main") == [
        FIRST_RENDER,
        "notes",
        "initial",
    ]
    assert git(top, "rev-parse", "HEAD") == git(origin, "rev-parse", "main")
    assert (top / "NOTES.md").read_text() == "notes\nmore\n"
    assert git(top, "status", "--porcelain") == ""


def test_push_refuses_local_commits_it_cannot_replay(
    csops: Csops, work: Path, origin: Path, tmp_path: Path
) -> None:
    colleague = clone(origin.as_uri(), tmp_path / "colleague")
    (colleague / "README.md").write_text("theirs\n")
    git(colleague, "commit", "-q", "-am", "theirs")
    git(colleague, "push", "-q", "origin", "main")
    theirs = git(origin, "rev-parse", "main")
    (work / "README.md").write_text("ours, unpushed\n")
    git(work, "commit", "-q", "-am", "ours")
    result = csops("render", work, "--commit", "--push")
    assert result.exit_code == 1
    assert "never force-pushes" in result.output
    assert git(origin, "rev-parse", "main") == theirs  # the remote is untouched


def test_push_gives_up_after_bounded_retries(
    csops: Csops, work: Path, origin: Path, tmp_path: Path
) -> None:
    """A remote that moves on every attempt: csops stops after --retries, the remote intact."""
    colleague = clone(origin.as_uri(), tmp_path / "colleague")
    hook = work / ".git" / "hooks" / "pre-push"
    hook.write_text(
        "#!/bin/sh\ncat >/dev/null\nunset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE\n"
        f'cd "{colleague}" && git pull -q --rebase origin main >/dev/null 2>&1 && '
        "date +%s%N >> NOTES.md && git add NOTES.md && git commit -q -m busy && "
        "git push -q origin main >/dev/null 2>&1\nexit 0\n"
    )
    hook.chmod(0o755)
    result = csops("render", work, "--commit", "--push", "--retries", "2")
    assert result.exit_code == 1
    assert "gave up after 3 attempts" in result.output
    assert log(origin, "main")[:3] == ["busy", "busy", "busy"]


def test_push_does_not_swallow_the_repository_argument(csops: Csops, work: Path) -> None:
    result = csops("render", "--commit", "--push", work)
    assert result.exit_code == 2
    assert "write REPO before --push" in result.output
