"""Kubernetes patch versions for stacks that name a minor only (generation 4: ``1.34``).

SCS's generation-4 scripts look the latest patch up on the network at build time. csops
renders offline and deterministically, so a minor is resolved from what the repository says:

1. a pin in ``csops.yaml``: ``kubernetesVersions: {"1.34": "1.34.3"}``;
2. else a version file beside the stack: ``versions.yaml`` in the stack directory or its
   parent (SCS's format, a list of ``{kubernetes: 1.34.3, …}``), the highest patch it lists for
   that minor;
3. else an error that names both places.

A version written with its patch (``1.34.3``, ``v1.34.3``) is used as it is. The version may
be a YAML number or a string, with or without ``v``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from csops import confine
from csops.renderer import documents
from csops.renderer.errors import Problem, SourceError
from csops.renderer.names import KubernetesVersion, NamingError

VERSIONS_FILE = "versions.yaml"
PIN_FIELD = "kubernetesVersions"
_VERSION = re.compile(r"^v?(?P<major>\d+)\.(?P<minor>\d+)(?:\.(?P<patch>\d+))?$")


@dataclass(frozen=True)
class Written:
    """A Kubernetes version as a stack file writes it, and where."""

    text: str
    file: str
    field: str
    line: Callable[[], int | None]
    """Finds the line only when an error needs it (the file is parsed again for that)."""

    def error(self, message: str, hint: str = "") -> SourceError:
        """An error about this version, pointing at where it is written."""
        return SourceError(
            Problem(self.file, message, field=self.field, line=self.line(), hint=hint)
        )


def minor_key(text: str) -> str | None:
    """``"1.34"`` for ``1.34``, ``v1.34``; ``None`` when ``text`` is not a bare minor."""
    match = _VERSION.match(text.strip())
    if match is None or match["patch"] is not None:
        return None
    return f"{int(match['major'])}.{int(match['minor'])}"


def _full(text: str) -> KubernetesVersion | None:
    match = _VERSION.match(text.strip())
    if match is None or match["patch"] is None:
        return None
    return KubernetesVersion.parse(f"v{match['major']}.{match['minor']}.{match['patch']}")


def _from_file(path: Path, minor: str, root: Path, display: str) -> KubernetesVersion | None:
    """The highest patch of ``minor`` a ``versions.yaml`` lists (entries' ``kubernetes``)."""
    confine.real(root, path, display)
    data = documents.load_one(path, display=display)
    found = []
    for entry in data if isinstance(data, list) else []:
        value = entry.get("kubernetes") if isinstance(entry, dict) else None
        if not isinstance(value, str):
            continue  # a YAML number such as 1.30 cannot be a patch version
        try:
            version = _full(value)
        except NamingError:
            continue
        if version is not None and version.minor_dot == minor:
            found.append(version)
    return max(found) if found else None


def version_files(directory: Path) -> list[Path]:
    """Where a version file beside the stack may be: the stack directory, then its parent."""
    return [d / VERSIONS_FILE for d in (directory, directory.parent)]


def resolve(
    written: Written, directory: Path, pins: Mapping[str, str], display: str, *, root: Path
) -> KubernetesVersion:
    """The full version a stack renders with; a SourceError says where a minor can be pinned."""
    try:
        full = _full(written.text)
    except NamingError as exc:
        raise written.error(str(exc)) from exc
    if full is not None:
        return full
    minor = minor_key(written.text)
    if minor is None:
        raise written.error(f"{written.text!r} is not a Kubernetes version (1.34, 1.34.3, v1.34.3)")
    if minor in pins:
        return KubernetesVersion.parse(pins[minor])
    files = version_files(directory)
    for path in files:
        if path.is_file():
            version = _from_file(path, minor, root, display_of(path, directory, display))
            if version is not None:
                return version
    places = " or ".join(f"{display_of(p, directory, display)}" for p in files)
    raise written.error(
        f"{written.text!r} names Kubernetes {minor} without a patch, and nothing pins it",
        hint=f'pin it in csops.yaml ({PIN_FIELD}: {{"{minor}": "{minor}.N"}}) or list '
        f"it in {places} (- kubernetes: {minor}.N)",
    )


def display_of(path: Path, directory: Path, display: str) -> str:
    """``path`` as users see it, given that ``directory`` is shown as ``display``."""
    if path.parent == directory:
        return f"{display}/{path.name}"
    parent = display.rsplit("/", 1)[0] if "/" in display else "."
    return f"{parent}/{path.name}"


def parse_pins(text: str, file: str) -> dict[str, str]:
    """``kubernetesVersions`` of csops.yaml as written: minor → ``vX.Y.Z`` of that minor."""
    raw = documents.raw_mapping(text, (PIN_FIELD,))
    if raw is None:
        return {}
    pins: dict[str, str] = {}
    for key, (value, line) in raw.items():
        minor = minor_key(key)
        try:
            full = _full(value)
        except NamingError:
            full = None
        if minor is None or full is None or full.minor_dot != minor:
            raise SourceError(
                Problem(
                    file,
                    f"{key}: {value} must pin a minor to one of its patches",
                    field=f"{PIN_FIELD}.{key}",
                    line=line,
                    hint='for example "1.34": "1.34.3"',
                )
            )
        pins[minor] = str(full)
    return pins
