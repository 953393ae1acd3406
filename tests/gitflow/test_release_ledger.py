"""Release immutability is checked against the committed history, not against a file the same
change can delete or rewrite (``render.lock``)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from csops.renderer import tree
from tests.gitflow.conftest import git

pytestmark = pytest.mark.integration

Csops = Callable[..., Result]
RELEASE = "docker-alder-1-29-v1"
BUNDLE = Path("rendered/releases") / RELEASE
LOCK = Path("rendered/render.lock")


def edit_metadata(work: Path) -> None:
    path = work / BUNDLE / "metadata.yaml"
    path.write_text(path.read_text().replace("v1.29.4", "v1.29.9"))


def fix_lock(work: Path) -> None:
    """What an attacker does after editing a bundle: make the lock agree with it."""
    lock = json.loads((work / LOCK).read_text())
    for path in lock["files"]:
        if path.startswith(f"releases/{RELEASE}/"):
            lock["files"][path] = tree.digest((work / "rendered" / path).read_bytes())
    (work / LOCK).write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n")


def refused(csops: Csops, work: Path, *what: str) -> None:
    before = {p: p.read_bytes() for p in sorted((work / "rendered").rglob("*")) if p.is_file()}
    for command in ("validate", "render"):
        result = csops(command, work)
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        assert f"rendered/releases/{RELEASE}" in result.stderr, result.stderr
        for text in what:
            assert text in result.stderr, result.stderr
    after = {p: p.read_bytes() for p in sorted((work / "rendered").rglob("*")) if p.is_file()}
    assert after == before


@pytest.fixture
def released(csops: Csops, work: Path) -> Path:
    assert csops("render", work, "--commit").exit_code == 0
    return work


def test_deleting_the_lock_does_not_free_a_release(csops: Csops, released: Path) -> None:
    (released / LOCK).unlink()
    edit_metadata(released)
    refused(csops, released, "metadata.yaml", "changed")


def test_an_edited_bundle_with_its_digest_fixed_is_refused(csops: Csops, released: Path) -> None:
    edit_metadata(released)
    fix_lock(released)
    refused(csops, released, "metadata.yaml", "whatever render.lock says")


def test_an_edit_committed_since_is_refused(csops: Csops, released: Path) -> None:
    edit_metadata(released)
    fix_lock(released)
    git(released, "commit", "-qam", "sneak a new Kubernetes patch into an old release")
    refused(csops, released, "metadata.yaml", "git checkout")


def test_a_deleted_release_and_a_file_added_to_one_are_refused(
    csops: Csops, released: Path
) -> None:
    (released / BUNDLE / "extra.yaml").write_text("a: b\n")
    refused(csops, released, "added: extra.yaml")
    (released / BUNDLE / "extra.yaml").unlink()
    shutil.rmtree(released / BUNDLE)
    (released / LOCK).unlink()
    refused(csops, released, "is deleted")


def test_an_untouched_history_renders(csops: Csops, released: Path) -> None:
    result = csops("render", released, "--check")
    assert result.exit_code == 0, result.output
