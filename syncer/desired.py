"""The desired state: every object in one revision's manifests directory.

An empty directory, an unparsable file (duplicate keys included, see :mod:`csops.yamldoc`), a
malformed object or a link out of the source is a :class:`RevisionError`; the caller applies
and prunes nothing for such a revision.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from csops import confine, yamldoc
from csops.syncer.errors import RevisionError
from csops.syncer.objects import ObjectId

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


def _documents(text: str) -> list[tuple[Any, int, list[int]]]:
    """Each YAML document with the line it starts on and, for a ``*List``, its items' lines."""
    found: list[tuple[Any, int, list[int]]] = []
    for node, value in yamldoc.nodes(text):
        item_lines: list[int] = []
        if isinstance(node, yaml.MappingNode):
            for key, child in node.value:
                if key.value == "items" and isinstance(child, yaml.SequenceNode):
                    item_lines = [item.start_mark.line + 1 for item in child.value]
        found.append((value, node.start_mark.line + 1, item_lines))
    return found


def load_file(path: Path, label: str) -> list[DesiredObject]:
    """The objects of one file; a :class:`RevisionError` names the file and line."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RevisionError(f"{label}: cannot read: {exc}") from exc
    return parse(data, label)


def parse(data: bytes, label: str) -> list[DesiredObject]:
    """The objects of one file's bytes; a :class:`RevisionError` names the file and line."""
    try:
        docs = _documents(data.decode("utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise RevisionError(f"{label}{where}: not valid YAML: {reason}") from exc
    except UnicodeDecodeError as exc:
        raise RevisionError(f"{label}: cannot read: {exc}") from exc
    objects = []
    for doc, line, item_lines in docs:
        if doc is None:
            continue
        if isinstance(doc, dict) and str(doc.get("kind", "")).endswith("List") and "items" in doc:
            items: list[Any] = doc["items"] or []
            if not isinstance(items, list):
                raise RevisionError(f"{label}:{line}: items of a {doc['kind']} must be a list")
            lines = item_lines if len(item_lines) == len(items) else [line] * len(items)
        else:
            items, lines = [doc], [line]
        for item, item_line in zip(items, lines, strict=True):
            body = _check(item, f"{label}:{item_line}")
            objects.append(DesiredObject(ObjectId.of(body), body, label))
    return objects


class ParseCache:
    """The objects of the files of the last revision loaded, by name and content digest.

    A long-running controller keeps one: a pass parses only the files that changed since the
    pass before. It holds the files of one revision at a time. The cached bodies are shared
    between passes, so nothing may change a desired body in place.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[str, bytes], list[DesiredObject]] = {}

    def objects(
        self, data: bytes, label: str, used: dict[tuple[str, bytes], list[DesiredObject]]
    ) -> list[DesiredObject]:
        """The objects of ``data`` (parsed only when not cached), noted in ``used``."""
        key = (label, hashlib.sha256(data).digest())
        found = self._entries.get(key)
        if found is None:
            found = parse(data, label)
        used[key] = found
        return found

    def keep(self, used: dict[tuple[str, bytes], list[DesiredObject]]) -> None:
        """Keep only the files of the revision just loaded."""
        self._entries = used


def _contents(directory: Path, root: Path) -> dict[str, bytes]:
    """Every manifest below ``directory`` by its path relative to it (links confined to
    ``root``)."""
    try:
        files = list(confine.labelled_files(root, directory))
    except confine.OutsideError as exc:
        raise RevisionError(f"{exc} (nothing outside the source is read)") from exc
    found = {}
    for label, path in files:
        if not is_manifest(label):
            continue
        try:
            found[label] = path.read_bytes()
        except OSError as exc:
            raise RevisionError(f"{label}: cannot read: {exc}") from exc
    return found


def is_manifest(label: str) -> bool:
    """Whether the file ``label`` (relative to the manifests directory) holds objects:
    a YAML or JSON file outside hidden directories."""
    return label.endswith(MANIFEST_SUFFIXES) and not any(
        part.startswith(".") for part in label.split("/")
    )


def load(
    directory: Path,
    root: Path | None = None,
    *,
    contents: Mapping[str, bytes] | None = None,
    cache: ParseCache | None = None,
) -> list[DesiredObject]:
    """All objects below ``directory`` sorted by identity; errors name the file.

    Nothing outside ``root`` (default: ``directory``) is read: a symbolic link leading out of
    it makes the whole revision a :class:`RevisionError`. ``contents`` are the files already
    read (by the source that fetched the revision); ``cache`` saves parsing files unchanged
    since the last load.
    """
    if not directory.is_dir():
        raise RevisionError(f"{directory}: the manifests directory does not exist")
    if contents is None:
        contents = _contents(directory, root or directory)
    objects: list[DesiredObject] = []
    seen: dict[ObjectId, str] = {}
    used: dict[tuple[str, bytes], list[DesiredObject]] = {}
    for label in contents:  # in the order of the walk
        if not is_manifest(label):
            continue
        data = contents[label]
        parsed = cache.objects(data, label, used) if cache is not None else parse(data, label)
        for obj in parsed:
            if obj.id in seen:
                raise RevisionError(f"{label}: {obj.id} is also defined in {seen[obj.id]}")
            seen[obj.id] = label
            objects.append(obj)
    if not objects:
        raise RevisionError(
            f"{directory}: no Kubernetes objects in this revision; refusing to sync an empty set"
        )
    if cache is not None:
        cache.keep(used)
    return sorted(objects, key=lambda o: o.id)
