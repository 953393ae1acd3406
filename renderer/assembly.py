"""Assembling rendered objects into the one-object-per-file ``manifests/`` of the tree.

Objects several releases share are merged when identical (and refused when not); each file
records the releases that own it. Objects an unchanged release produced last time arrive as
the bytes on disk and pass through untouched while their owners are the same.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from csops.renderer import documents, manifests
from csops.renderer.errors import ProblemList
from csops.renderer.tree import MANIFESTS_DIR


class Assembler:
    """Collects objects into one-object-per-file manifests, merging identical shared ones.

    Objects an unchanged release produced last time arrive as the bytes on disk and are
    passed through as they are when their owners did not change; they are parsed only when
    they have to be compared or re-annotated.
    """

    def __init__(self, previous_owners: dict[str, set[str]] | None = None) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.reused: dict[str, bytes] = {}
        self.owners: dict[str, set[str]] = defaultdict(set)
        self.origin: dict[str, str] = {}
        self.previous_owners = previous_owners or {}
        self.problems = ProblemList()

    def _materialise(self, path: str) -> None:
        data = self.reused.pop(path, None)
        if data is not None:
            self.objects[path] = strip_releases(documents.loads_one(data.decode(), path))

    def add(self, obj: dict[str, Any], origin: str, release: str | None = None) -> str:
        path = manifests.path_of(obj)
        self._materialise(path)
        if path in self.objects:
            if self.objects[path] != obj or release is None or not self.owners[path]:
                self.problems.add(
                    origin,
                    f"renders {manifests.identity(obj)}, which "
                    f"{self.origin[path]} renders differently",
                    hint="two releases may share an object only if it is identical",
                )
                return path
        else:
            self.objects[path] = obj
            self.origin[path] = origin
        if release is not None:
            self.owners[path].add(release)
        return path

    def add_reused(self, path: str, data: bytes, origin: str, release: str) -> str:
        if path in self.objects:
            self.reused[path] = data
            self._materialise_against(path, origin)
        elif path not in self.reused:
            self.reused[path] = data
            self.origin[path] = origin
        self.owners[path].add(release)
        return path

    def _materialise_against(self, path: str, origin: str) -> None:
        data = self.reused.pop(path)
        obj = strip_releases(documents.loads_one(data.decode(), path))
        if self.objects[path] != obj:
            self.problems.add(
                origin,
                f"renders {manifests.identity(obj)}, which {self.origin[path]} renders differently",
                hint="two releases may share an object only if it is identical",
            )

    def files(self) -> dict[str, bytes]:
        out = {}
        for path, data in list(self.reused.items()):  # _materialise pops from it
            if self.owners[path] == self.previous_owners.get(path):
                out[f"{MANIFESTS_DIR}/{path}"] = data
            else:
                self._materialise(path)
        for path, obj in self.objects.items():
            owners = self.owners.get(path)
            final = with_releases(obj, owners) if owners else obj
            out[f"{MANIFESTS_DIR}/{path}"] = documents.dump(final)
        return out


def with_releases(obj: dict[str, Any], releases: set[str]) -> dict[str, Any]:
    meta = dict(obj.get("metadata") or {})
    meta["annotations"] = {
        **(meta.get("annotations") or {}),
        manifests.RELEASES_ANNOTATION: ",".join(sorted(releases)),
    }
    meta["labels"] = {**(meta.get("labels") or {}), manifests.INSTANCE_LABEL: "owned"}
    return {**obj, "metadata": meta}


def strip_releases(obj: dict[str, Any]) -> dict[str, Any]:
    meta = dict(obj.get("metadata") or {})
    annotations = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if k != manifests.RELEASES_ANNOTATION
    }
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != manifests.INSTANCE_LABEL}
    for key, value in (("annotations", annotations), ("labels", labels)):
        if value:
            meta[key] = value
        else:
            meta.pop(key, None)
    return {**obj, "metadata": meta}
