"""The rendered tree is swapped in whole, and debris of killed renders is cleaned up."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from csops.confine import OutsideError
from csops.renderer import render_repo, tree
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


def _dead_pid() -> int:
    finished = subprocess.Popen(["true"])
    finished.wait()
    return finished.pid


def _committed_by_a_dead_render(out: Path, files: dict[str, bytes]) -> Path:
    """Stage and commit an update of ``out`` as a render would, under a pid that has died."""
    committed = tree._stage(
        out,
        files,
        [rel for rel, data in files.items() if read_tree(out).get(rel) != data],
        sorted(set(read_tree(out)) - set(files)),
    )
    return committed.rename(committed.parent / f".{out.name}.apply-{_dead_pid()}-x")


def test_an_update_committed_by_a_killed_render_is_finished_by_the_next_read(
    tmp_path: Path,
) -> None:
    out = tmp_path / "rendered"
    write_tree(out, {"a/x.yaml": b"1", "a/gone/y.yaml": b"2", "keep.yaml": b"k"})
    new = {"a/x.yaml": b"3", "b/z.yaml": b"4", "keep.yaml": b"k"}
    committed = _committed_by_a_dead_render(out, new)
    # killed half-way: one staged file already renamed into the tree
    (committed / "0").rename(out / "a/x.yaml")
    assert read_tree(out) == new
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rendered"]
    assert not (out / "a/gone").exists()


def test_an_update_staged_but_not_committed_changes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    write_tree(out, {"a.yaml": b"1"})
    committed = _committed_by_a_dead_render(out, {"a.yaml": b"2", "b.yaml": b"3"})
    staging = committed.rename(tmp_path / f".rendered.new-{_dead_pid()}-y")
    assert read_tree(out) == {"a.yaml": b"1"}
    write_tree(out, {"a.yaml": b"1", "c.yaml": b"4"}, read_tree(out))
    assert read_tree(out) == {"a.yaml": b"1", "c.yaml": b"4"}
    assert not staging.exists()


def test_an_update_touches_only_what_changed_and_prunes_emptied_directories(
    tmp_path: Path,
) -> None:
    out = tmp_path / "rendered"
    write_tree(out, {"d/e/old.yaml": b"1", "d/same.yaml": b"s", "f": b"file"})
    same = (out / "d/same.yaml").stat().st_ino
    write_tree(out, {"d/same.yaml": b"s", "d/e": b"now a file", "f/g.yaml": b"g"}, read_tree(out))
    assert read_tree(out) == {"d/same.yaml": b"s", "d/e": b"now a file", "f/g.yaml": b"g"}
    assert (out / "d/same.yaml").stat().st_ino == same
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rendered"]


def test_an_update_does_not_follow_a_link_planted_in_the_tree(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    outside = tmp_path / "outside"
    outside.mkdir()
    write_tree(out, {"a/x.yaml": b"1"})
    current = read_tree(out)
    shutil.rmtree(out / "a")
    (out / "a").symlink_to(outside)
    with pytest.raises(TreeError, match="cannot write the rendered tree"):
        write_tree(out, {"a/x.yaml": b"2"}, current)
    assert list(outside.iterdir()) == []


def test_a_path_that_is_a_file_and_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TreeError, match="both a file and a directory"):
        write_tree(tmp_path / "rendered", {"a": b"1", "a/b": b"2"})
    assert not (tmp_path / "rendered").exists()


def test_an_update_removes_nothing_outside_the_tree(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    write_tree(out, {"a.yaml": b"1"})
    (tmp_path / "victim.yaml").write_bytes(b"keep")
    with pytest.raises(OutsideError):
        write_tree(out, {"a.yaml": b"2"}, {"a.yaml": b"1", "../victim.yaml": b"keep"})
    assert (tmp_path / "victim.yaml").read_bytes() == b"keep"
    assert read_tree(out) == {"a.yaml": b"1"}
