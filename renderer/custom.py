"""csctl's custom mode: the user names a stack's cluster-stack, addon and node-image versions.

``csctl create --mode custom`` takes ``--cluster-stack-version``, ``--cluster-addon-version``
and ``--node-image-version``, all three required and each in dot form. csops takes the same
three per stack, from ``csops render --mode custom --stack P-N-M-m …`` or from
``csops.yaml``::

    versionMode: custom
    customVersions:
      docker-ferrol-1-27: {clusterStack: v1-alpha.0, clusterAddon: v1, nodeImage: v1}

A source without custom versions must match a release that exists; a release that exists
cannot be cut again with other contents.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from csops.renderer import documents
from csops.renderer.errors import Problem, ProblemList, SourceError
from csops.renderer.versions import Version, VersionError

FIELD = "customVersions"
KEYS = ("clusterStack", "clusterAddon", "nodeImage")
FLAGS = {
    "clusterStack": "--cluster-stack-version",
    "clusterAddon": "--cluster-addon-version",
    "nodeImage": "--node-image-version",
}


@dataclass(frozen=True)
class CustomVersions:
    """The three component versions of one release, as the user gave them."""

    cluster_stack: Version
    cluster_addon: Version
    node_image: Version


def parse(values: dict[str, str], where: str, fields: dict[str, str]) -> CustomVersions:
    """Versions from ``values`` (keys of :data:`KEYS`); ``fields`` says how to name each key."""
    problems = ProblemList()
    parsed: dict[str, Version] = {}
    for key in KEYS:
        text = values.get(key)
        if not text:
            problems.add(where, f"{fields[key]} is required in custom mode", hint="as with csctl")
            continue
        try:
            parsed[key] = Version.parse(str(text))
        except VersionError as exc:
            problems.add(where, f"{fields[key]}: {exc}", hint="use the dot form, e.g. v1-alpha.0")
    problems.raise_if_any()
    return CustomVersions(parsed["clusterStack"], parsed["clusterAddon"], parsed["nodeImage"])


def from_config(data: dict[str, Any], text: str, file: str) -> dict[str, CustomVersions]:
    """``customVersions`` of csops.yaml, by stack (``P-N-M-m``)."""
    lines = documents.line_index(text)
    out: dict[str, CustomVersions] = {}
    problems = ProblemList()
    for stack, values in (data.get(FIELD) or {}).items():
        line = lines.get((FIELD, stack))
        try:
            out[stack] = parse(values, file, {k: f"{FIELD}.{stack}.{k}" for k in KEYS})
        except SourceError as exc:
            problems.extend(
                [Problem(p.file, p.message, line=line, hint=p.hint) for p in exc.problems]
            )
    problems.raise_if_any()
    return out


def from_flags(values: dict[str, str | None]) -> CustomVersions:
    """Versions from the command line flags (all three required, as with csctl)."""
    given = {k: v for k, v in values.items() if v}
    return parse(given, "command line", FLAGS)
