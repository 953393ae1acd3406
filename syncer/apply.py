"""Apply what differs: compare each desired object with its live copy, apply only the changed.

An object is unchanged when every desired field equals the live value (server defaults and
fields of other managers are ignored) and csops owns no field the desired object dropped (read
from the live object's ``managedFields``). Everything else is server-side applied (field
manager ``csops``, force) with bounded concurrency.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from syncer.desired import DesiredObject
from syncer.errors import ApiError
from syncer.inventory import PART_OF_LABEL
from syncer.kube import Kube
from syncer.objects import ObjectId, Resource

UNCHANGED, CREATED, CONFIGURED, FAILED = "unchanged", "created", "configured", "failed"


@dataclass
class Outcome:
    id: ObjectId
    action: str
    live: dict[str, Any] | None = None
    error: str | None = None

    @property
    def changed(self) -> bool:
        return self.action in (CREATED, CONFIGURED)


def prepared(obj: DesiredObject, applyset: str, resource: Resource) -> dict[str, Any]:
    """The body to apply: the desired object labelled as a member of the ApplySet."""
    body = copy.deepcopy(obj.body)
    meta = body.setdefault("metadata", {})
    if resource.namespaced:
        meta.setdefault("namespace", "default")
    else:
        meta.pop("namespace", None)
    labels = meta.get("labels") or {}
    labels[PART_OF_LABEL] = applyset
    meta["labels"] = labels
    body.pop("status", None)
    return body


def is_subset(desired: Any, live: Any) -> bool:
    """Every desired value is present and equal in ``live`` (lists element-wise)."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return False
        return all(k in live and is_subset(v, live[k]) for k, v in desired.items())
    if isinstance(desired, list):
        if not isinstance(live, list) or len(desired) != len(live):
            return False
        return all(is_subset(d, v) for d, v in zip(desired, live, strict=True))
    if isinstance(desired, bool) or isinstance(live, bool):
        return desired is live or (desired == live and type(desired) is type(live))
    if isinstance(desired, int | float) and isinstance(live, int | float):
        return float(desired) == float(live)
    return bool(desired == live)


def _desired_paths(value: Any, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    paths: set[tuple[str, ...]] = set()
    if isinstance(value, dict):
        for key, child in value.items():
            path = (*prefix, str(key))
            paths.add(path)
            paths |= _desired_paths(child, path)
    return paths


def _owned_paths(fields: Any, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    paths: set[tuple[str, ...]] = set()
    if not isinstance(fields, dict):
        return paths
    for key, child in fields.items():
        if key.startswith("f:"):
            path = (*prefix, key[2:])
            paths.add(path)
            paths |= _owned_paths(child, path)
        # k:/v:/i: entries are list members: the list itself is the unit we compare
    return paths


def owned_by(live: dict[str, Any], manager: str) -> tuple[set[tuple[str, ...]], str | None]:
    """Field paths ``manager`` owns through Apply, and the apiVersion it applied at."""
    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            return _owned_paths(entry.get("fieldsV1") or {}), entry.get("apiVersion")
    return set(), None


def in_sync(body: dict[str, Any], live: dict[str, Any] | None, manager: str) -> bool:
    if live is None:
        return False
    if not is_subset({k: v for k, v in body.items() if k not in ("apiVersion", "kind")}, live):
        return False
    owned, api_version = owned_by(live, manager)
    if api_version is None or api_version != body.get("apiVersion"):
        return False
    return owned <= _desired_paths(body)


class Applier:
    """Applies a batch of objects whose bodies and live copies are known."""

    def __init__(self, kube: Kube, concurrency: int = 8) -> None:
        self.kube = kube
        self.concurrency = max(1, concurrency)

    def apply(
        self, items: Iterable[tuple[ObjectId, Resource, dict[str, Any], dict[str, Any] | None]]
    ) -> list[Outcome]:
        """``(id, resource, body, live-or-None)``: unchanged ones cost no request."""
        results: list[Outcome] = []
        todo = []
        for oid, resource, body, live in items:
            if in_sync(body, live, self.kube.field_manager):
                results.append(Outcome(oid, UNCHANGED, live))
            else:
                todo.append((oid, resource, body, live))
        if not todo:
            return results

        def one(item: tuple[ObjectId, Resource, dict[str, Any], dict[str, Any] | None]) -> Outcome:
            oid, resource, body, live = item
            try:
                applied = self.kube.apply(resource, body)
            except ApiError as exc:
                return Outcome(oid, FAILED, live, str(exc))
            return Outcome(oid, CREATED if live is None else CONFIGURED, applied)

        if len(todo) == 1 or self.concurrency == 1:
            results.extend(one(item) for item in todo)
        else:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(todo))) as pool:
                results.extend(pool.map(one, todo))
        return results
