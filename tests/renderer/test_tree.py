"""The rendered tree is swapped in whole, and debris of killed renders is cleaned up."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from csops.renderer import render_repo
from csops.renderer.errors import TreeError
from csops.renderer.tree import compare, read_tree, write_tree

pytestmark = pytest.mark.integration


def test_write_tree_replaces_everything_at_once(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    write_tree(out, {"a/x.yaml": b"1", "b.yaml": b"2"})
    write_tree(out, {"a/x.yaml": b"3", "c.yaml": b"4"})
    assert read_tree(out) == {"a/x.yaml": b"3", "c.yaml": b"4"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rendered"]
    diff = compare({"a": b"1", "b": b"2"}, {"a": b"9", "c": b"3"})
    assert (diff.added, diff.changed, diff.removed) == (("c",), ("a",), ("b",))


def test_debris_of_dead_renders_is_removed_but_live_ones_are_kept(tmp_path: Path) -> None:
    finished = subprocess.Popen(["true"])
    finished.wait()
    (tmp_path / f".rendered.new-{finished.pid}-abc").mkdir()
    (tmp_path / f".rendered.old-{finished.pid}").mkdir()
    live = tmp_path / f".rendered.new-{os.getpid()}-xyz"
    live.mkdir()
    write_tree(tmp_path / "rendered", {"x": b"1"})
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["rendered", live.name])


def test_legacy_csmctl_yaml_is_read(stacks_repo: Path) -> None:
    source = stacks_repo / "providers/docker/alder/1-29"
    shutil.move(source / "csctl.yaml", source / "csmctl.yaml")
    result = render_repo(stacks_repo)
    assert "docker-alder-1-29-v1" in result.new_releases


def test_unchanged_files_are_linked_not_rewritten(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    write_tree(out, {"keep.yaml": b"same", "change.yaml": b"old"})
    before = (out / "keep.yaml").stat().st_ino
    current = read_tree(out)
    write_tree(out, {"keep.yaml": b"same", "change.yaml": b"new"}, current)
    assert (out / "keep.yaml").stat().st_ino == before
    assert read_tree(out) == {"keep.yaml": b"same", "change.yaml": b"new"}


def test_a_path_leaving_the_tree_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    write_tree(out, {"a.yaml": b"1"})
    for bad in ("../escape.yaml", "a//b.yaml", "./a.yaml", "/abs.yaml"):
        with pytest.raises(TreeError, match="not a plain path inside the tree"):
            write_tree(out, {"b.yaml": b"2", bad: b"3"})
    assert read_tree(out) == {"a.yaml": b"1"}
    assert not (tmp_path / "escape.yaml").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rendered"]


def test_unchanged_files_are_hard_linked_and_new_ones_written(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    write_tree(out, {"d/e/same.yaml": b"same", "d/old.yaml": b"old"})
    before = (out / "d/e/same.yaml").stat().st_ino
    write_tree(
        out,
        {"d/e/same.yaml": b"same", "d/new.yaml": b"new", "f/g/h.yaml": b"h"},
        read_tree(out),
    )
    assert read_tree(out) == {"d/e/same.yaml": b"same", "d/new.yaml": b"new", "f/g/h.yaml": b"h"}
    assert (out / "d/e/same.yaml").stat().st_ino == before
