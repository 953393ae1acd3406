"""The desired state: every object in one revision's manifests directory.

An empty directory, an unparsable file or a malformed object is a :class:`RevisionError`;
the caller applies and prunes nothing for such a revision.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from syncer.errors import RevisionError
from syncer.objects import ObjectId

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class DesiredObject:
    """One object of the revision and the file it came from."""

    id: ObjectId
    body: dict[str, Any]
    source: str

    @property
    def api_version(self) -> str:
        return str(self.body["apiVersion"])

    @property
    def annotations(self) -> dict[str, str]:
        return dict(self.body.get("metadata", {}).get("annotations") or {})


def _check(doc: Any, where: str) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise RevisionError(f"{where}: a Kubernetes object must be a mapping")
    for field in ("apiVersion", "kind"):
        if not isinstance(doc.get(field), str) or not doc[field]:
            raise RevisionError(f"{where}: missing {field}")
    meta = doc.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        raise RevisionError(f"{where}: missing metadata.name")
    return doc


def load_file(path: Path, label: str) -> list[DesiredObject]:
    try:
        text = path.read_text(encoding="utf-8")
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise RevisionError(f"{label}{line}: not valid YAML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise RevisionError(f"{label}: cannot read: {exc}") from exc
    objects = []
    for index, doc in enumerate(docs):
        if doc is None:
            continue
        where = label if len(docs) == 1 else f"{label} (document {index + 1})"
        if isinstance(doc, dict) and doc.get("kind", "").endswith("List") and "items" in doc:
            items = doc["items"] or []
        else:
            items = [doc]
        for item in items:
            body = _check(item, where)
            objects.append(DesiredObject(ObjectId.of(body), body, label))
    return objects


def load(directory: Path) -> list[DesiredObject]:
    """All objects below ``directory`` sorted by identity; errors name the file."""
    if not directory.is_dir():
        raise RevisionError(f"{directory}: the manifests directory does not exist")
    objects: list[DesiredObject] = []
    seen: dict[ObjectId, str] = {}
    for path in sorted(directory.rglob("*")):
        if not path.is_file() or path.suffix not in MANIFEST_SUFFIXES:
            continue
        if any(part.startswith(".") for part in path.relative_to(directory).parts):
            continue
        label = str(path.relative_to(directory))
        for obj in load_file(path, label):
            if obj.id in seen:
                raise RevisionError(f"{label}: {obj.id} is also defined in {seen[obj.id]}")
            seen[obj.id] = label
            objects.append(obj)
    if not objects:
        raise RevisionError(
            f"{directory}: no Kubernetes objects in this revision; refusing to sync an empty set"
        )
    return sorted(objects, key=lambda o: o.id)
