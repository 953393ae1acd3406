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
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from csops.renderer import schemas, tree
from csops.renderer.errors import ImmutableReleaseError, Problem, ProblemList, TreeError
from csops.renderer.tree import MANIFESTS_DIR, RELEASES_DIR
from csops.version import VERSION

if TYPE_CHECKING:
    from csops.gitrepo import SourceCommit
    from csops.renderer.ledger import Release

LOCK_FILE = "render.lock"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_PROVENANCE = ("generator", "source")
_RELEASE_OBJECTS = "clusterstackrelease.clusterstack.x-k8s.io/"
_T = TypeVar("_T")


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
    """Deterministic JSON: ``json.dumps(data, indent=2, sort_keys=True)`` and a newline.

    Written here rather than by :mod:`json`, whose indenting encoder is pure Python and
    costs a no-op render tens of milliseconds on a lock with thousands of files; strings go
    through the same C escaper, so the bytes are the same (``test_lock_dump``).
    """
    return (_json(data, "\n") + "\n").encode()


def _json(value: Any, newline: str) -> str:
    """``value`` as ``json.dumps(indent=2, sort_keys=True)`` writes it at this nesting."""
    kind = type(value)
    if kind is str:
        return _string(value)
    inner = newline + "  "
    if kind is dict:
        if not value:
            return "{}"
        if not all(type(k) is str for k in value):
            return json.dumps(value, indent=2, sort_keys=True).replace("\n", newline)
        parts = [
            inner + _string(k) + ": " + (_string(v) if type(v) is str else _json(v, inner))
            for k, v in sorted(value.items())
        ]
        return "{" + ",".join(parts) + newline + "}"
    if kind is list:
        if not value:
            return "[]"
        parts = [inner + (_string(v) if type(v) is str else _json(v, inner)) for v in value]
        return "[" + ",".join(parts) + newline + "]"
    return json.dumps(value)


_string: Callable[[str], str] = json.encoder.encode_basestring_ascii


def same_content(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal apart from provenance (commit, dirty flag, csops version)."""

    def strip(d: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in d.items() if k not in _PROVENANCE}

    return strip(a) == strip(b)


def _by_release(files: Mapping[str, _T]) -> dict[str, dict[str, _T]]:
    """Files under ``releases/`` grouped by release name."""
    grouped: dict[str, dict[str, _T]] = defaultdict(dict)
    for path, value in files.items():
        if path.startswith(f"{RELEASES_DIR}/"):
            grouped[path.split("/", 2)[1]][path] = value
    return grouped


def check_immutable(
    existing: dict[str, bytes],
    old: Lock,
    out: str,
    committed: list[Problem] | None = None,
    digests: tree.Digests | None = None,
) -> None:
    """Every release the lock knows must still be on disk, byte for byte. ``committed``: what
    the check against git history found (:mod:`~csops.renderer.released`), reported for the
    bundles the lock does not already flag."""
    problems = ProblemList()
    digests = digests or tree.Digests(existing)
    recorded_of = _by_release(old.files)
    present_of = _by_release(existing)
    for name in sorted(old.releases):
        prefix = f"{RELEASES_DIR}/{name}/"
        recorded = recorded_of.get(name, {})
        present = set(present_of.get(name, {}))
        if not present:
            problems.add(
                f"{out}/{RELEASES_DIR}/{name}",
                "release bundle was deleted",
                hint="releases are immutable; restore it from git (git checkout -- "
                f"{out}/{RELEASES_DIR}/{name})",
            )
            continue
        changed = sorted(
            p for p in recorded if p in existing and digests.of(p, existing[p]) != recorded[p]
        )
        missing = sorted(set(recorded) - present)
        added = sorted(present - set(recorded))
        for kind, paths in (("changed", changed), ("missing", missing), ("added", added)):
            if paths:
                files = ", ".join(p.removeprefix(prefix) for p in paths)
                problems.add(
                    f"{out}/{RELEASES_DIR}/{name}",
                    f"release bundle was modified ({kind}: {files})",
                    hint="releases are immutable: restore the bundle and change the "
                    "stack source instead, which cuts a new version",
                )
    flagged = {p.file for p in problems.problems}
    problems.extend([p for p in committed or [] if p.file not in flagged])
    problems.raise_if_any(ImmutableReleaseError)


def reusable(
    old: Lock, existing: dict[str, bytes], full: bool, digests: tree.Digests | None = None
) -> dict[str, list[str]]:
    """Manifest paths an unchanged (namespace, release) produced last time, still intact."""
    if full or not old.data or old.generator_version != VERSION:
        return {}
    digests = digests or tree.Digests(existing)
    recorded = old.files
    out: dict[str, list[str]] = {}
    for key, paths in old.manifests.items():
        intact = []
        for path in paths:
            full_path = f"{MANIFESTS_DIR}/{path}"
            data = existing.get(full_path)
            if data is None or digests.of(full_path, data) != recorded.get(full_path):
                break
            if not path.startswith(_RELEASE_OBJECTS, path.index("/") + 1):
                intact.append(path)
        else:
            out[key] = intact
    return out


def previous_owners(old: Lock) -> dict[str, set[str]]:
    owners: dict[str, set[str]] = defaultdict(set)
    for key, paths in old.manifests.items():
        for path in paths:
            owners[path].add(key.split("/", 1)[1])
    return owners


def build(
    files: dict[str, bytes],
    *,
    releases: dict[str, Release],
    manifest_index: dict[str, list[str]],
    old: Lock,
    source: SourceCommit | None,
    known: tree.Digests | None = None,
) -> bytes:
    """The lock of ``files``; ``known``: digests of the tree on disk, computed already."""
    known = known or tree.Digests({})
    digests = {p: known.of(p, d) for p, d in sorted(files.items())}
    lines_of: dict[str, list[bytes]] = defaultdict(list)
    for path, file_digest in digests.items():
        if path.startswith(f"{RELEASES_DIR}/"):
            lines_of[path.split("/")[1]].append(f"{file_digest}  {path}\n".encode())
    data: dict[str, Any] = {
        "lockVersion": 1,
        "generator": {"name": "csops", "version": VERSION},
        "source": {"commit": source.commit, "dirty": source.dirty} if source else {},
        "releases": {
            name: {
                "stack": r.stack.prefix,
                "version": r.version.dot,
                "kubernetes": r.versions.kubernetes,
                "hashes": {k: v for k, v in vars(r.hashes).items() if v},
                "digest": tree.digest(b"".join(lines_of[name])),
            }
            for name, r in sorted(releases.items())
            if name in lines_of
        },
        "manifests": manifest_index,
        "files": digests,
    }
    if old.data and same_content(old.data, data):
        return dump(old.data)
    return dump(data)
