"""The rendered tree on disk: read it, compare it, and update it all or nothing.

A tree written for the first time is built beside the output and renamed into place (or
swapped in with one ``renameat2`` exchange, Linux). A tree that exists is updated in place,
file by file, under a journal: the new contents are staged beside the tree, the staging
directory is renamed to mark the update committed, and only then are files renamed over the
old ones and stale ones removed. A render killed before that rename changed nothing; one
killed after it is finished by the next read or write of the tree (:func:`recover`). So the
cost of a write is that of the files that changed, not of the whole tree: creating and
removing hundreds of directories is what dominated a re-render on a real file system.

Every path is proven to stay inside the tree before anything is written
(:func:`csops.confine.relative`), and directories are opened without following links, so
files outside the output directory are never touched.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
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
    try:
        recover(directory)
    except OSError as exc:
        raise TreeError(
            Problem(
                shown,
                f"cannot finish the update an interrupted render committed: {exc}",
                hint="fix the cause (permissions, space) and render again",
            )
        ) from exc
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


class Digests:
    """Digests of a tree's files as read, each computed once however often it is asked for."""

    def __init__(self, files: Mapping[str, bytes]) -> None:
        self.files = files
        self.known: dict[str, str] = {}

    def of(self, path: str, data: bytes) -> str:
        """:func:`digest` of ``data``; remembered when it is the tree's own bytes at ``path``."""
        if self.files.get(path) is not data:
            return digest(data)
        found = self.known.get(path)
        if found is None:
            found = self.known[path] = digest(data)
        return found


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


def _leftovers(directory: Path) -> Iterator[tuple[str, Path]]:
    """``(kind, path)`` of the staging, retired or committed directories of renders that died."""
    prefix = f".{directory.name}."
    for leftover in sorted(directory.parent.glob(f"{prefix}*")):
        rest = leftover.name[len(prefix) :]
        kind, _, tail = rest.partition("-")
        pid = tail.split("-")[0]
        if pid.isdigit() and not _alive(int(pid)) and leftover.is_dir():
            yield kind, leftover


def recover(directory: Path) -> None:
    """Finish the committed in-place updates of ``directory`` whose render was killed."""
    for kind, leftover in _leftovers(directory):
        if kind == _APPLYING:
            _apply(directory, leftover)


def _remove_leftovers(directory: Path) -> None:
    """Finish committed updates, and delete staging or retired trees, of killed renders."""
    for kind, leftover in _leftovers(directory):
        if kind == _APPLYING:
            _apply(directory, leftover)
        elif kind in ("new", "old"):
            shutil.rmtree(leftover, ignore_errors=True)


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | os.O_NOFOLLOW
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
_APPLYING = "apply"
_JOURNAL = "journal.json"


class _Directories:
    """Open directory descriptors below a root, made on first use, so each file costs one
    ``openat`` of its own name rather than a walk of its whole path."""

    def __init__(self, root: Path, *, make: bool = True) -> None:
        self.fds: dict[str, int] = {"": os.open(root, _DIR_FLAGS)}
        self.make = make

    def fd(self, rel: str) -> int:
        """The directory ``rel``, made when missing (``make``); FileNotFoundError otherwise."""
        found = self.fds.get(rel)
        if found is not None:
            return found
        head, _, name = rel.rpartition("/")
        parent = self.fd(head)
        if self.make:
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, 0o777, dir_fd=parent)
        made = self.fds[rel] = os.open(name, _DIR_FLAGS, dir_fd=parent)
        return made

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()


def _write_new(name: str, data: bytes, dir_fd: int) -> None:
    fd = os.open(name, _NEW_FILE, 0o666, dir_fd=dir_fd)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _fill(staging: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` below the empty ``staging``."""
    dirs = _Directories(staging)
    try:
        for rel, data in files.items():
            head, _, name = rel.rpartition("/")
            _write_new(name, data, dirs.fd(head))
    finally:
        dirs.close()


def _check_shape(directory: Path, files: Iterable[str]) -> None:
    """No path is both a file and a directory of another file."""
    paths = set(files)
    folders: set[str] = set()
    for rel in paths:
        head = rel.rpartition("/")[0]
        while head and head not in folders:
            folders.add(head)
            head = head.rpartition("/")[0]
    clash = sorted(paths & folders)
    if clash:
        raise TreeError(
            [Problem(f"{directory}/{rel}", "is both a file and a directory") for rel in clash]
        )


def _stage(directory: Path, files: dict[str, bytes], writes: list[str], removes: list[str]) -> Path:
    """Stage an update beside ``directory`` and commit it; returns the committed directory."""
    parent = directory.parent
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.new-{os.getpid()}-", dir=parent))
    try:
        fd = os.open(staging, _DIR_FLAGS)
        try:
            for n, rel in enumerate(writes):
                _write_new(str(n), files[rel], fd)
            plan = {"write": [[str(n), rel] for n, rel in enumerate(writes)], "remove": removes}
            _write_new(_JOURNAL, json.dumps(plan).encode(), fd)
        finally:
            os.close(fd)
        committed = parent / staging.name.replace(".new-", f".{_APPLYING}-", 1)
        staging.rename(committed)  # the commit point: from here on the update is finished
        return committed
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _apply(directory: Path, committed: Path) -> None:
    """Carry out a committed update (again, after a kill: every step may already be done)."""
    plan = json.loads((committed / _JOURNAL).read_bytes())
    removed: list[str] = plan["remove"]
    _remove_files(directory, removed)
    dirs = _Directories(directory)
    staged = os.open(committed, _DIR_FLAGS)
    try:
        for name, rel in plan["write"]:
            head, _, base = rel.rpartition("/")
            # A staged file already moved was renamed by the render that died.
            with contextlib.suppress(FileNotFoundError):
                os.rename(name, base, src_dir_fd=staged, dst_dir_fd=dirs.fd(head))
        os.unlink(_JOURNAL, dir_fd=staged)
    finally:
        os.close(staged)
        dirs.close()
    committed.rmdir()


def _remove_files(directory: Path, removed: list[str]) -> None:
    """Remove files of the tree, then the directories that leaves empty."""
    if not removed:
        return
    dirs = _Directories(directory, make=False)
    try:
        folders: set[str] = set()
        for rel in removed:
            head, _, name = rel.rpartition("/")
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name, dir_fd=dirs.fd(head))
            while head:
                folders.add(head)
                head = head.rpartition("/")[0]
        for folder in sorted(folders, key=lambda f: f.count("/"), reverse=True):
            head, _, name = folder.rpartition("/")
            with contextlib.suppress(OSError):  # not empty, or already gone
                os.rmdir(name, dir_fd=dirs.fd(head))
    finally:
        dirs.close()


def _update(directory: Path, files: dict[str, bytes], unchanged: dict[str, bytes]) -> None:
    """Rename the files that differ from ``unchanged`` into ``directory``, remove the rest."""
    writes = [rel for rel, data in files.items() if unchanged.get(rel) != data]
    removes = sorted(rel for rel in unchanged if rel not in files)
    if not writes and not removes:
        return
    for rel in (*writes, *removes):
        confine.relative(rel, f"{directory}/{rel}")
    _apply(directory, _stage(directory, files, writes, removes))


def write_tree(
    directory: Path, files: dict[str, bytes], unchanged: dict[str, bytes] | None = None
) -> None:
    """Make ``directory`` hold exactly ``files``, all of them or none.

    ``unchanged`` is what the tree holds now (as :func:`read_tree` read it): only the files
    that differ from it are written, and the ones it has and ``files`` has not are removed,
    under a journal (see the module). Without it, a whole new tree is built and swapped in.
    Files are never modified in place: a changed file is a new file renamed over the old one.
    """
    bad = [rel for rel in files if any(p in ("", ".", "..") for p in rel.split("/"))]
    if bad:
        raise TreeError(
            [Problem(f"{directory}/{rel}", "is not a plain path inside the tree") for rel in bad]
        )
    _check_shape(directory, files)
    parent = directory.parent
    parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(directory)
    if unchanged is not None and directory.is_dir() and not directory.is_symlink():
        try:
            _update(directory, files, unchanged)
        except OSError as exc:
            raise TreeError(
                Problem(
                    str(directory),
                    f"cannot write the rendered tree: {exc}",
                    hint="if the update was committed, the next render finishes it; "
                    "otherwise the previous tree is unchanged",
                )
            ) from exc
        return
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.new-{os.getpid()}-", dir=parent))
    try:
        # Every path proven plain before anything is written. Its text is the whole proof:
        # the staging directory is new and ours, and _fill creates every directory and file
        # in it through descriptors without following links, so nothing in it can redirect.
        for rel in files:
            confine.relative(rel, f"{directory}/{rel}")
        _fill(staging, files)
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
