"""Paths proven to stay inside a root: nothing csops reads comes from outside the tree it was
given (a stacks repository, a sync source), and nothing it writes lands outside its output.

Two kinds of proof:

- :func:`relative` and :func:`under` check a path *made from data* (an object's name, a path
  in a git tree) before it is used: relative, no ``..``, ``.`` or empty segments, no NUL or
  backslash;
- :func:`real` and :func:`files` check a path *on disk*, following symbolic links: a link may
  point anywhere inside the root, never outside it.

A path that fails is an :class:`OutsideError` naming it, where it leads and what to do.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from csops.errors import Problem, ProblemError


class OutsideError(ProblemError):
    """A path leaves the tree it must stay in."""


def _shown(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def relative(rel: str, display: str) -> PurePosixPath:
    """``rel`` as a relative path that cannot leave its base; :class:`OutsideError` otherwise."""
    reason = ""
    if not rel or "\0" in rel or "\\" in rel:
        reason = "is empty or holds a NUL byte or a backslash"
    elif rel.startswith("/"):
        reason = "is absolute"
    elif any(part in ("", ".", "..") for part in rel.split("/")):
        reason = "has an empty, '.' or '..' segment"
    if reason:
        raise OutsideError(
            Problem(
                display,
                f"path {rel!r} {reason}",
                hint="a path made from a name must stay below its directory",
            )
        )
    return PurePosixPath(rel)


def under(base: Path, rel: str, display: str) -> Path:
    """``base / rel``, proven to stay below ``base`` by its text and by its real location."""
    path = base / relative(rel, display)
    real(base, path, display)
    return path


def real(root: Path, path: Path, display: str | None = None) -> Path:
    """Where ``path`` really is (every link followed); :class:`OutsideError` when that is
    outside ``root``. ``path`` need not exist: the part that exists is resolved."""
    base = root.resolve()
    target = path.resolve()
    if target == base or base in target.parents:
        return target
    link = next((p for p in (path, *path.parents) if p.is_symlink()), None)
    shown = display or _shown(root, path)
    how = f"is a symbolic link to {target}" if link == path else f"leads to {target}"
    if link is not None and link != path:
        how += f" through the link {_shown(root, link)}"
    raise OutsideError(
        Problem(
            shown,
            f"{how}, outside {root}",
            hint="csops reads and writes nothing outside the tree it was given; "
            "copy the file into it instead of linking to it",
        )
    )


def files(root: Path, directory: Path) -> Iterator[Path]:
    """Every regular file below ``directory``, as paths below ``directory``, sorted.

    Links are followed while they stay inside ``root`` (each directory is entered once, so a
    link loop ends); a link leading outside is an :class:`OutsideError`.
    """
    return (path for _, path in labelled_files(root, directory))


def labelled_files(root: Path, directory: Path) -> Iterator[tuple[str, Path]]:
    """:func:`files`, each with its path relative to ``directory`` (``/``-separated)."""
    entered: set[Path] = set()

    def walk(here: Path, prefix: str) -> Iterator[tuple[str, Path]]:
        where = real(root, here)
        if where in entered:
            return
        entered.add(where)
        for entry in sorted(os.scandir(here), key=lambda e: e.name):
            path, label = Path(entry.path), prefix + entry.name
            if entry.is_symlink():
                target = real(root, path)
                if target.is_dir():
                    yield from walk(path, label + "/")
                elif target.is_file():
                    yield label, path
            elif entry.is_dir():
                yield from walk(path, label + "/")
            elif entry.is_file():
                yield label, path

    yield from walk(directory, "")
