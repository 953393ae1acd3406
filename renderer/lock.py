"""``render.lock``: provenance and digests of the rendered tree.

It records which csops rendered the tree from which commit, each release's hashes and bundle
digest, which manifests each (namespace, release) produced, and a digest of every file. The
digests make a hand-edited release bundle detectable; the manifest lists let a re-render reuse
what an unchanged release produced without calling Helm. Provenance fields (commit, csops
version) alone never make a tree stale.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from csops.renderer import schemas
from csops.renderer.errors import Problem, TreeError

LOCK_FILE = "render.lock"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_PROVENANCE = ("generator", "source")


@dataclass
class Lock:
    """The parsed lock."""

    data: dict[str, Any] = field(default_factory=dict)

    @property
    def generator_version(self) -> str:
        """The csops version that wrote it."""
        return str((self.data.get("generator") or {}).get("version", ""))

    @property
    def files(self) -> dict[str, str]:
        """Path (relative to the output dir) → ``sha256:<hex>``."""
        return dict(self.data.get("files") or {})

    @property
    def releases(self) -> dict[str, dict[str, Any]]:
        """Release name → ``{stack, version, kubernetes, hashes, digest}``."""
        return dict(self.data.get("releases") or {})

    @property
    def manifests(self) -> dict[str, list[str]]:
        """``<namespace>/<release>`` → manifest paths it produced."""
        return dict(self.data.get("manifests") or {})


def parse(text: bytes | None, display: str) -> Lock:
    """Read a lock; an absent lock is empty, a corrupt one is an error."""
    if not text:
        return Lock()
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise TreeError(
            Problem(
                display,
                f"corrupt lock: {exc}",
                hint="restore it from git or delete it and render again",
            )
        ) from exc
    # The files map has an entry per file of the tree: checked with one regex, not jsonschema.
    files = data.get("files") if isinstance(data, dict) else None
    problems = schemas.validate("render-lock", {**data, "files": {}} if files else data, display)
    if isinstance(files, dict):
        bad = sorted(p for p, d in files.items() if not isinstance(d, str) or not _DIGEST.match(d))
        problems += [
            Problem(display, "is not a sha256:<hex> digest", field=f"files.{path}") for path in bad
        ]
    if problems:
        raise TreeError(problems)
    return Lock(data)


def dump(data: dict[str, Any]) -> bytes:
    """Deterministic JSON."""
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


def same_content(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal apart from provenance (commit, dirty flag, csops version)."""

    def strip(d: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in d.items() if k not in _PROVENANCE}

    return strip(a) == strip(b)
