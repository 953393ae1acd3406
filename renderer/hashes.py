"""Source hashes: Go's dirhash ``h1`` as csctl computes it, and the per-layer ``hashes.json``.

The stack hash is ``dirhash.HashDir(dir, "", Hash1)`` over every regular file, cleaned
(``h1:`` prefix dropped, ``/ = +`` removed, lower-cased); its first seven characters make the
hash-mode version ``v0-sha.<7>``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


def file_digests(directory: Path) -> dict[str, str]:
    """The SHA-256 (hex) of every regular file below ``directory`` by ``/``-separated path;
    links are not followed (stack sources hold none: they are refused before hashing)."""
    found: dict[str, str] = {}

    def walk(path: str, rel: str) -> None:
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    walk(entry.path, f"{rel}{entry.name}/")
                elif entry.is_file(follow_symlinks=False):
                    # read whole: stack files are small, and hashlib.file_digest allocates
                    # a 256 KiB buffer per file (half the cost of hashing a stack)
                    with open(entry.path, "rb") as handle:  # noqa: PTH123 - a DirEntry path
                        found[f"{rel}{entry.name}"] = hashlib.sha256(handle.read()).hexdigest()

    walk(str(directory), "")
    return found


def _h1(digests: dict[str, str]) -> str:
    summary = hashlib.sha256()
    for rel in sorted(digests, key=lambda s: s.encode()):
        summary.update(f"{digests[rel]}  {rel}\n".encode())
    return "h1:" + base64.b64encode(summary.digest()).decode()


def dirhash_h1(directory: Path) -> str:
    """Go's ``dirhash.Hash1`` of a directory, with the ``h1:`` prefix."""
    return _h1(file_digests(directory))


def clean(h1: str) -> str:
    """csctl's cleaning: drop ``h1:``, delete ``/``, ``=`` and ``+``, lower-case."""
    text = h1.removeprefix("h1:")
    return text.replace("/", "").replace("=", "").replace("+", "").lower()


def file_hash(path: Path) -> str:
    """SHA-256 of one file, base64 and cleaned like a directory hash (csctl's values hash)."""
    return clean(base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode())


def stack_hash(directory: Path) -> str:
    """The cleaned cluster-stack hash of a stack directory, as csctl prints it."""
    return clean(dirhash_h1(directory))


@dataclass(frozen=True)
class StackHashes:
    """The contents of ``hashes.json``: csctl's keys plus the layers csctl forgets.

    ``clusterClassDir`` is csctl's ``feat/hash-clusterclass`` key; ``nodeImagesDir`` covers
    the plural ``node-images/`` directory csctl ignores and ``nodeImagesConfig``
    ``node-images.yaml``; ``clusterAddonConfig`` is
    ``clusteraddon.yaml`` and ``stackConfig`` is ``csctl.yaml``/``stack.yaml``.
    """

    clusterStack: str
    clusterAddonDir: str = ""
    clusterAddonValues: str = ""
    nodeImageDir: str = ""
    clusterClassDir: str = ""
    nodeImagesDir: str = ""
    nodeImagesConfig: str = ""
    clusterAddonConfig: str = ""
    stackConfig: str = ""

    def to_json(self) -> str:
        """Deterministic JSON with empty (absent) layers left out, as csctl does."""
        data = {k: v for k, v in asdict(self).items() if v}
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> StackHashes:
        """Parse ``hashes.json``; unknown keys are ignored, a malformed file is a ValueError."""
        data = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("clusterStack"), str):
            raise ValueError("expected an object with a clusterStack hash")
        known = {k: str(v) for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def release_key(self) -> tuple[str, ...]:
        """What makes a release different: every layer, not README or example files."""
        return (
            self.clusterClassDir,
            self.clusterAddonDir,
            self.clusterAddonValues,
            self.clusterAddonConfig,
            self.nodeImageDir,
            self.nodeImagesDir,
            self.nodeImagesConfig,
            self.stackConfig,
        )

    def addon_changed(self, previous: StackHashes) -> bool:
        """Whether the addon layer differs (decides the ``clusterAddon`` version bump)."""
        return (self.clusterAddonDir, self.clusterAddonValues, self.clusterAddonConfig) != (
            previous.clusterAddonDir,
            previous.clusterAddonValues,
            previous.clusterAddonConfig,
        )

    def node_image_changed(self, previous: StackHashes) -> bool:
        """Whether the node-image layer differs (both ``node-image/`` and ``node-images/``)."""
        return (self.nodeImageDir, self.nodeImagesDir, self.nodeImagesConfig) != (
            previous.nodeImageDir,
            previous.nodeImagesDir,
            previous.nodeImagesConfig,
        )


def _below(directory: Path, name: str, digests: dict[str, str]) -> str:
    """The cleaned hash of the subdirectory ``name`` from the stack's file digests."""
    if not (directory / name).is_dir():
        return ""
    prefix = f"{name}/"
    return clean(
        _h1({rel[len(prefix) :]: d for rel, d in digests.items() if rel.startswith(prefix)})
    )


def _file(path: Path) -> str:
    return file_hash(path) if path.is_file() else ""


def source_hashes(directory: Path) -> StackHashes:
    """Every layer hash of a stack directory, as recorded in a release's ``hashes.json``."""
    candidates = [directory / n for n in ("stack.yaml", "csctl.yaml", "csmctl.yaml")]
    config = next((c for c in candidates if c.is_file()), candidates[1])
    digests = file_digests(directory)  # each file read once for every layer
    return StackHashes(
        clusterStack=clean(_h1(digests)),
        clusterAddonDir=_below(directory, "cluster-addon", digests),
        clusterAddonValues=_file(directory / "cluster-addon-values.yaml"),
        nodeImageDir=_below(directory, "node-image", digests),
        clusterClassDir=_below(directory, "cluster-class", digests),
        nodeImagesDir=_below(directory, "node-images", digests),
        nodeImagesConfig=_file(directory / "node-images.yaml"),
        clusterAddonConfig=_file(directory / "clusteraddon.yaml"),
        stackConfig=_file(config),
    )
