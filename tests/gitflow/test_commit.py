"""``csops render --commit``: one commit with provenance, or none; never anything but the tree."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.gitflow.conftest import bump, git, log, offer, trailers

pytestmark = pytest.mark.integration

Csops = Callable[..., Result]
ALDER_29 = Path("providers/docker/alder/1-29")


def test_commit_is_idempotent(csops: Csops, work: Path) -> None:
    source = git(work, "rev-parse", "HEAD")
    first = csops("render", "--commit", work)
    assert first.exit_code == 0, first.output
    assert log(work) == [
        "render: 3 releases added (docker-alder-1-29-v1, docker-alder-1-30-v1, …), "
        "3 stacks changed",
        "stacks: initial",
    ]
    assert git(work, "rev-parse", "HEAD^") == source
    assert trailers(work) == {
        "Source-Commit": source,
        "Csops-Version": "0.1.0",
        "Rendered-Releases": "docker-alder-1-29-v1, docker-alder-1-30-v1, openstack-birch-1-31-v1",
    }
    body = git(work, "log", "-1", "--format=%b")
    assert "Objects: 39 added, 0 changed, 0 removed." in body
    # only the rendered tree is in the commit, and the work tree and index are clean after it
    changed = git(work, "diff-tree", "--no-commit-id", "--name-only", "-r", "HEAD").splitlines()
    assert changed and all(p.startswith("rendered/") for p in changed)
    assert git(work, "status", "--porcelain") == ""

    head = git(work, "rev-parse", "HEAD")
    second = csops("render", "--commit", work)
    assert second.exit_code == 0, second.output
    assert "nothing to commit" in second.output
    assert git(work, "rev-parse", "HEAD") == head


def test_noop_when_rendered_tree_already_committed(csops: Csops, work: Path) -> None:
    assert csops("render", work).exit_code == 0
    git(work, "add", "rendered")
    git(work, "commit", "-q", "-m", "by hand")
    head = git(work, "rev-parse", "HEAD")
    result = csops("render", "--commit", work)
    assert result.exit_code == 0, result.output
    assert "nothing to commit: main already has this render" in result.output
    assert git(work, "rev-parse", "HEAD") == head
    assert git(work, "status", "--porcelain") == ""


def test_commit_on_detached_head(csops: Csops, work: Path) -> None:
    assert csops("render", "--commit", work).exit_code == 0
    main = git(work, "rev-parse", "main")
    git(work, "checkout", "-q", "--detach")
    bump(work / ALDER_29, "v1.29.4", "v1.29.5")
    offer(work, "docker-alder-1-29", "v2")
    git(work, "commit", "-q", "-am", "alder 1.29.5")
    source = git(work, "rev-parse", "HEAD")

    result = csops("render", "--commit", work)
    assert result.exit_code == 0, result.output
    assert "release docker-alder-1-29-v2 cut" in result.output
    assert git(work, "rev-parse", "--abbrev-ref", "HEAD") == "HEAD"  # still detached
    assert git(work, "rev-parse", "HEAD^") == source
    assert git(work, "rev-parse", "main") == main
    assert log(work)[0] == "render: 1 release added (docker-alder-1-29-v2), 1 stack changed"
    assert trailers(work)["Source-Commit"] == source
    assert (work / "rendered/releases/docker-alder-1-29-v2/metadata.yaml").is_file()
    assert git(work, "status", "--porcelain") == ""


def test_dirty_tree_refused(csops: Csops, work: Path) -> None:
    head = git(work, "rev-parse", "HEAD")
    (work / "README.md").write_text("edited\n")
    result = csops("render", "--commit", work)
    assert result.exit_code == 1
    assert "has changes outside the rendered tree" in result.output
    assert "M README.md" in result.output
    assert "--allow-dirty" in result.output
    assert git(work, "rev-parse", "HEAD") == head
    assert not (work / "rendered").exists()  # refused before rendering anything

    git(work, "checkout", "-q", "README.md")
    (work / "providers" / "scratch.txt").write_text("untracked\n")
    result = csops("render", "--commit", work)
    assert result.exit_code == 1
    assert "?? providers/scratch.txt" in result.output


def test_allow_dirty_commits_only_the_rendered_tree(csops: Csops, work: Path) -> None:
    (work / "README.md").write_text("staged edit\n")
    git(work, "add", "README.md")
    (work / "csops.yaml").write_text((work / "csops.yaml").read_text() + "# unstaged\n")
    result = csops("render", "--commit", "--allow-dirty", work)
    assert result.exit_code == 0, result.output
    assert trailers(work)["Source-Dirty"] == "true"
    changed = git(work, "diff-tree", "--no-commit-id", "--name-only", "-r", "HEAD").splitlines()
    assert all(p.startswith("rendered/") for p in changed)
    # the user's staged and unstaged changes are exactly as they were
    assert git(work, "diff", "--cached", "--name-only") == "README.md"
    assert git(work, "diff", "--name-only") == "csops.yaml"


def test_commit_in_a_subdirectory_of_a_bigger_repository(csops: Csops, tmp_path: Path) -> None:
    from tests.gitflow.conftest import make_stacks

    top = tmp_path / "mono"
    top.mkdir()
    (top / "README.md").write_text("other things\n")
    stacks = make_stacks(top / "platform" / "stacks")
    git(top, "init", "-q")
    git(top, "add", "-A")
    git(top, "commit", "-q", "-m", "initial")
    result = csops("render", "--commit", stacks)
    assert result.exit_code == 0, result.output
    changed = git(top, "diff-tree", "--no-commit-id", "--name-only", "-r", "HEAD").splitlines()
    assert changed and all(p.startswith("platform/stacks/rendered/") for p in changed)
    assert git(top, "status", "--porcelain") == ""
