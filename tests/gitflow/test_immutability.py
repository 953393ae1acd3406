"""Review-time immutability: a change may not edit or delete a release bundle of the base."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.gitflow.conftest import git

pytestmark = pytest.mark.integration

Csops = Callable[..., Result]
RELEASE = "docker-alder-1-29-v1"
TAMPERED = f"releases/{RELEASE}/cluster-class/values.yaml"


@pytest.fixture
def reviewed(csops: Csops, work: Path) -> Path:
    """``main`` rendered and pushed; the work tree on a pull-request branch."""
    assert csops("render", work, "--commit", "--push").exit_code == 0
    git(work, "remote", "set-head", "origin", "main")
    git(work, "checkout", "-q", "-b", "pr")
    return work


def _tamper(repo: Path) -> None:
    """Edit a bundle file and fix up the lock, so the lock alone cannot tell."""
    path = repo / "rendered" / TAMPERED
    path.write_text(path.read_text() + "# a quiet edit\n")
    lock_path = repo / "rendered" / "render.lock"
    lock = json.loads(lock_path.read_text())
    lock["files"][TAMPERED] = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    lock_path.write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n")


def test_tampered_release_rejected(csops: Csops, reviewed: Path) -> None:
    _tamper(reviewed)
    git(reviewed, "commit", "-q", "-am", "sneaky")
    head = csops("validate", reviewed, "--base", "HEAD")  # the lock agrees, history does not
    assert head.exit_code == 1
    assert f"release {RELEASE} differs from the bundle committed in" in head.output

    result = csops("validate", reviewed, "--base", "main")
    assert result.exit_code == 1
    assert f"rendered/releases/{RELEASE}: release {RELEASE} exists at main and was modified" in (
        result.output
    )
    assert "changed: cluster-class/values.yaml" in result.output

    check = csops("render", reviewed, "--check", "--base", "main")
    assert check.exit_code == 1
    assert f"release {RELEASE} exists at main and was modified" in check.output

    default = csops("validate", reviewed)  # default base: origin/HEAD
    assert default.exit_code == 1
    assert "exists at origin/HEAD and was modified" in default.output


def test_deleted_release_rejected_with_github_base_ref(
    csops: Csops, reviewed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.rmtree(reviewed / "rendered" / "releases" / RELEASE)
    monkeypatch.setenv("GITHUB_BASE_REF", "main")
    result = csops("validate", reviewed)
    assert result.exit_code == 1
    assert f"release {RELEASE} exists at origin/main and was deleted" in result.output
    assert f"git checkout origin/main -- rendered/releases/{RELEASE}" in result.output


def test_missing_github_base_ref_is_loud(
    csops: Csops, reviewed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_BASE_REF", "release-1.0")
    result = csops("validate", reviewed)
    assert result.exit_code == 1
    assert "fetch-depth: 0" in result.output


def test_new_release_on_a_pull_request_passes(csops: Csops, reviewed: Path) -> None:
    csctl = reviewed / "providers/docker/alder/1-29/csctl.yaml"
    csctl.write_text(csctl.read_text().replace("v1.29.4", "v1.29.5"))
    assert csops("render", reviewed).exit_code == 0
    result = csops("validate", reviewed, "--base", "main")
    assert result.exit_code == 0, result.output
    assert "release bundles unchanged since main" in result.output
    assert csops("render", reviewed, "--check", "--base", "main").exit_code == 0
