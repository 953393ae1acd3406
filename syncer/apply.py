"""Apply what differs: compare each desired object with its live copy, apply only the changed.

An object is unchanged when every desired field equals the live value (server defaults and
fields of other managers are ignored) and csops owns no field the desired object dropped (read
from the live object's ``managedFields``). Everything else is server-side applied (field
manager ``csops``, force) with bounded concurrency.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from csops.syncer import quantity
from csops.syncer.changeset import Action, Change
from csops.syncer.errors import ApiError
from csops.syncer.kube import Kube
from csops.syncer.objects import ObjectId, Resource

Item = tuple[ObjectId, Resource, dict[str, Any], dict[str, Any] | None]


def prepared(
    obj: Mapping[str, Any], resource: Resource, labels: Mapping[str, str], default_namespace: str
) -> dict[str, Any]:
    """The body to apply: ``obj`` with ``labels``, its namespace settled, without status.

    Only the top level and ``metadata`` are copied: ``obj`` is left as it was, and its nested
    values are shared with the body (nothing downstream changes a body; parsed revisions are
    reused between passes, :class:`~csops.syncer.desired.ParseCache`).
    """
    body = dict(obj)
    meta = dict(body.get("metadata") or {})
    body["metadata"] = meta
    if resource.namespaced:
        meta["namespace"] = meta.get("namespace") or default_namespace
    else:
        meta.pop("namespace", None)
    meta["labels"] = {**(meta.get("labels") or {}), **labels}
    body.pop("status", None)
    return body


def _empty(value: Any) -> bool:
    """A value the API server drops (``omitempty``): null, "", 0, false, {} or [] (nested)."""
    if isinstance(value, dict):
        return all(_empty(v) for v in value.values())
    if isinstance(value, list):
        return not value
    return (
        value is None
        or value == ""
        or value is False
        or (isinstance(value, int | float) and not isinstance(value, bool) and value == 0)
    )


def _scalar_equal(desired: Any, live: Any, path: tuple[str, ...]) -> bool:
    if desired is None:
        return _empty(live)  # SSA stores null as the zero value or drops it
    if isinstance(desired, bool) or isinstance(live, bool):
        return desired is live or (desired == live and type(desired) is type(live))
    if isinstance(desired, int | float) and isinstance(live, int | float):
        return float(desired) == float(live)
    if desired == live:
        return True
    return quantity.is_quantity_path(path) and quantity.equal(desired, live)


def is_subset(desired: Any, live: Any, path: tuple[str, ...] = ()) -> bool:
    """Every desired value is present and equal in ``live`` (lists element-wise).

    Equality is what the API server makes of the value: quantities compare by value
    (``1000m`` = ``1``), and a null, empty or zero desired value matches an absent one.
    """
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return live is None and _empty(desired)
        for key, value in desired.items():
            name = str(key)
            if name not in live:
                if not _empty(value):
                    return False
                continue
            if not is_subset(value, live[name], (*path, name)):
                return False
        return True
    if isinstance(desired, list):
        if not isinstance(live, list):
            return live is None and not desired
        if len(desired) != len(live):
            return False
        return all(is_subset(d, v, path) for d, v in zip(desired, live, strict=True))
    return _scalar_equal(desired, live, path)


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


def comparable(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` as the API server stores it, for comparison with a live object.

    ``metadata.creationTimestamp`` is set by the server (``null`` in generated YAML is
    ignored), and a Secret's ``stringData`` is stored base64-encoded in ``data``.
    """
    result = {k: v for k, v in body.items() if k not in ("apiVersion", "kind", "status")}
    meta = result.get("metadata")
    if isinstance(meta, dict) and "creationTimestamp" in meta:
        result["metadata"] = {k: v for k, v in meta.items() if k != "creationTimestamp"}
    string_data = result.pop("stringData", None) if _is_secret(body) else None
    if isinstance(string_data, dict):
        data = dict(result.get("data") or {})
        for key, value in string_data.items():
            text = "" if value is None else str(value)
            data[str(key)] = base64.b64encode(text.encode()).decode()
        result["data"] = data
    return result


def _is_secret(body: dict[str, Any]) -> bool:
    return body.get("apiVersion") == "v1" and body.get("kind") == "Secret"


def in_sync(body: dict[str, Any], live: dict[str, Any] | None, manager: str) -> bool:
    """Applying ``body`` would change nothing: every desired value is live (as the server
    stores it), ``manager`` applied at the same apiVersion and owns no field ``body`` lacks."""
    if live is None:
        return False
    if not is_subset(comparable(body), live):
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

    def apply(self, items: Iterable[Item]) -> list[Change]:
        """``(id, resource, body, live-or-None)``: unchanged ones cost no request."""
        results: list[Change] = []
        todo = []
        for oid, resource, body, live in items:
            if in_sync(body, live, self.kube.field_manager):
                results.append(Change(oid, Action.UNCHANGED, live, None, body["apiVersion"]))
            else:
                todo.append((oid, resource, body, live))
        if not todo:
            return results

        def one(item: Item) -> Change:
            oid, resource, body, live = item
            version = str(body["apiVersion"])
            try:
                applied = self.kube.apply(resource, body)
            except ApiError as exc:
                return Change(oid, Action.FAILED, live, str(exc), version)
            action = Action.CREATED if live is None else Action.CONFIGURED
            return Change(oid, action, applied, None, version)

        if len(todo) == 1 or self.concurrency == 1:
            results.extend(one(item) for item in todo)
        else:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(todo))) as pool:
                results.extend(pool.map(one, todo))
        return results
