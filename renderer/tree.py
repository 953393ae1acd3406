"""The rendered tree on disk: read it, compare it, and replace it atomically.

A new tree is written beside the old one and swapped in with one ``renameat2`` exchange
(Linux), so readers see the old tree or the new one, never a mix; other systems fall back to
two renames. Every path is proven to stay inside the tree before anything is written
(:func:`csops.confine.under`), so files outside the output directory are never touched.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from csops import confine
from csops.renderer.errors import Problem, TreeError

MANIFESTS_DIR = "manifests"
RELEASES_DIR = "releases"
"""The two halves of a rendered tree: one object per file, and the release bundles."""

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def read_tree(directory: Path, display: str | None = None) -> dict[str, bytes]:
    """Every file below ``directory`` by ``/``-separated relative path.

    csops writes regular files only, so a symbolic link in the tree (which could make a
    render read, or Helm load, a file from anywhere) is a :class:`TreeError`. Each directory
    is listed once and its files opened relative to it (no path resolution per file).
    """
    if not directory.is_dir():
        return {}
    shown = display or str(directory)
    files: dict[str, bytes] = {}
    problems: list[Problem] = []
    _read_below(str(directory), "", files, problems, shown)
    if problems:
        raise TreeError(problems)
    return files


def _read_below(
    path: str, rel: str, files: dict[str, bytes], problems: list[Problem], shown: str
) -> None:
    """Read the files below ``path`` (``rel`` inside the tree) into ``files``."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_DIRECTORY", 0))
    except OSError as exc:
        problems.append(Problem(f"{shown}/{rel}".rstrip("/"), f"cannot read: {exc.strerror}"))
        return
    try:
        with os.scandir(fd) as entries:
            listed = sorted(entries, key=lambda e: e.name)
        for entry in listed:
            name = f"{rel}{entry.name}"
            if entry.is_symlink():
                target = os.readlink(entry.name, dir_fd=fd)
                problems.append(
                    Problem(
                        f"{shown}/{name}",
                        f"is a symbolic link (to {target})",
                        hint="the rendered tree holds regular files only: remove the link "
                        "and render again",
                    )
                )
            elif entry.is_dir(follow_symlinks=False):
                _read_below(f"{path}/{entry.name}", f"{name}/", files, problems, shown)
            else:
                try:
                    files[name] = _read_at(fd, entry.name, flags)
                except OSError as exc:
                    problems.append(Problem(f"{shown}/{name}", f"cannot read: {exc.strerror}"))
    finally:
        os.close(fd)


def _read_at(dir_fd: int, name: str, flags: int) -> bytes:
    """The whole content of ``name`` in the directory ``dir_fd``."""
    fd = os.open(name, flags, dir_fd=dir_fd)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def digest(data: bytes) -> str:
    """``sha256:<hex>`` of some bytes."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class TreeDiff:
    """Paths added, changed and removed between two trees."""

    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def compare(old: dict[str, bytes], new: dict[str, bytes]) -> TreeDiff:
    """What it takes to turn ``old`` into ``new``."""
    return TreeDiff(
        tuple(sorted(set(new) - set(old))),
        tuple(sorted(p for p in set(new) & set(old) if new[p] != old[p])),
        tuple(sorted(set(old) - set(new))),
    )


def _exchange(a: Path, b: Path) -> bool:
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return bool(result == 0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_leftovers(directory: Path) -> None:
    """Delete staging or retired trees of earlier renders that were killed half-way."""
    prefix = f".{directory.name}."
    for leftover in directory.parent.glob(f"{prefix}*"):
        rest = leftover.name[len(prefix) :]
        kind, _, tail = rest.partition("-")
        pid = tail.split("-")[0]
        if kind in ("new", "old") and pid.isdigit() and not _alive(int(pid)) and leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | os.O_NOFOLLOW
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC


class _Directories:
    """Open directory descriptors below a root, made on first use, so each file costs one
    ``openat`` of its own name rather than a walk of its whole path."""

    def __init__(self, root: Path) -> None:
        self.fds: dict[str, int] = {"": os.open(root, _DIR_FLAGS)}

    def fd(self, rel: str) -> int:
        found = self.fds.get(rel)
        if found is not None:
            return found
        head, _, name = rel.rpartition("/")
        parent = self.fd(head)
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, 0o777, dir_fd=parent)
        made = self.fds[rel] = os.open(name, _DIR_FLAGS, dir_fd=parent)
        return made

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()


def _fill(
    staging: Path, files: dict[str, bytes], old: Path | None, unchanged: dict[str, bytes]
) -> None:
    """Write ``files`` below the empty ``staging``; hard-link those equal to ``unchanged``."""
    dirs = _Directories(staging)
    old_fd = os.open(old, _DIR_FLAGS) if old is not None and old.is_dir() else None
    try:
        for rel, data in files.items():
            head, _, name = rel.rpartition("/")
            parent = dirs.fd(head)
            if old_fd is not None and unchanged.get(rel) == data:
                try:
                    os.link(rel, name, src_dir_fd=old_fd, dst_dir_fd=parent)
                    continue
                except OSError:
                    pass
            fd = os.open(name, _NEW_FILE, 0o666, dir_fd=parent)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
    finally:
        dirs.close()
        if old_fd is not None:
            os.close(old_fd)


def write_tree(
    directory: Path, files: dict[str, bytes], unchanged: dict[str, bytes] | None = None
) -> None:
    """Make ``directory`` hold exactly ``files``, all at once or not at all.

    Files whose bytes equal ``unchanged`` (what the tree holds now) are hard-linked into the
    new tree instead of written again; files are never modified in place, so sharing an
    inode with the retired tree is safe.
    """
    bad = [rel for rel in files if any(p in ("", ".", "..") for p in rel.split("/"))]
    if bad:
        raise TreeError(
            [Problem(f"{directory}/{rel}", "is not a plain path inside the tree") for rel in bad]
        )
    parent = directory.parent
    parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(directory)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.new-{os.getpid()}-", dir=parent))
    try:
        # Every path proven plain before anything is written. Its text is the whole proof:
        # the staging directory is new and ours, and _fill creates every directory and file
        # in it through descriptors without following links, so nothing in it can redirect.
        for rel in files:
            confine.relative(rel, f"{directory}/{rel}")
        _fill(staging, files, directory if unchanged is not None else None, unchanged or {})
        staging.chmod(0o755)
        if not directory.exists():
            staging.rename(directory)
            return
        if _exchange(staging, directory):
            shutil.rmtree(staging)
            return
        retired = parent / f".{directory.name}.old-{os.getpid()}"
        directory.rename(retired)
        staging.rename(directory)
        shutil.rmtree(retired)
    except confine.OutsideError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise TreeError(
            Problem(
                str(directory),
                f"cannot write the rendered tree: {exc}",
                hint="the previous tree is unchanged",
            )
        ) from exc
