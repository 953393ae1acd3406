"""Render commit messages: a subject saying what changed, a body, and provenance trailers.

Every render commit names the source commit it was made from (``Source-Commit``), whether the
source had local changes (``Source-Dirty``), the csops version (``Csops-Version``) and the
releases in the tree (``Rendered-Releases``). Pure: data in, text out.
"""

from __future__ import annotations

import json

from csops.renderer import lock
from csops.renderer.objectdiff import TreeChanges
from csops.version import VERSION

SUBJECT_PREFIX = "render"
TRAILER_SOURCE = "Source-Commit"
TRAILER_VERSION = "Csops-Version"
TRAILER_RELEASES = "Rendered-Releases"
TRAILER_DIRTY = "Source-Dirty"
_NAMES_IN_SUBJECT = 2


def _names(names: tuple[str, ...] | list[str]) -> str:
    shown = ", ".join(names[:_NAMES_IN_SUBJECT])
    return shown + (", …" if len(names) > _NAMES_IN_SUBJECT else "")


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def commit_message(
    changes: TreeChanges,
    *,
    source: str | None,
    source_subject: str = "",
    dirty: bool = False,
    releases: list[str] | None = None,
) -> str:
    """Subject, body and trailers of a render commit."""
    parts = []
    if changes.releases_added:
        parts.append(
            f"{_count(len(changes.releases_added), 'release')} added "
            f"({_names(changes.releases_added)})"
        )
    stacks = changes.stacks_changed
    if stacks:
        parts.append(f"{_count(len(stacks), 'stack')} changed")
    if not parts:
        touched = len(changes.objects) or 1
        parts.append(f"{_count(touched, 'object')} changed")
    lines = [f"{SUBJECT_PREFIX}: {', '.join(parts)}", ""]
    if source:
        lines.append(
            f"Rendered from {source[:12]}"
            + (f" ({source_subject})" if source_subject else "")
            + "."
        )
    lines.append(
        f"Objects: {changes.count('added')} added, {changes.count('changed')} changed, "
        f"{changes.count('removed')} removed."
    )
    if changes.releases_added:
        lines.append(f"Releases added: {', '.join(changes.releases_added)}.")
    if changes.releases_removed:
        lines.append(f"Releases removed: {', '.join(changes.releases_removed)}.")
    if stacks:
        lines.append(f"Stacks changed: {', '.join(stacks)}.")
    lines.append("")
    if source:
        lines.append(f"{TRAILER_SOURCE}: {source}")
    if dirty:
        lines.append(f"{TRAILER_DIRTY}: true")
    lines.append(f"{TRAILER_VERSION}: {VERSION}")
    if releases:
        lines.append(f"{TRAILER_RELEASES}: {', '.join(releases)}")
    return "\n".join(lines) + "\n"


def lock_releases(files: dict[str, bytes]) -> list[str]:
    data = files.get(lock.LOCK_FILE)
    if not data:
        return []
    return sorted((json.loads(data).get("releases") or {}).keys())
