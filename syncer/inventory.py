"""The ApplySet-compatible inventory: a parent Secret listing every object csops manages.

The parent carries ``applyset.kubernetes.io/id`` (label), ``tooling``,
``contains-group-kinds`` and ``additional-namespaces`` (annotations) as KEP-3659 specifies;
members carry ``applyset.kubernetes.io/part-of: <id>``. csops also keeps the exact member list,
the apiVersion each member was applied at (so a stale member is looked up where it is served,
not at its group's preferred version) and its last sync state in the Secret's data. It is
written as a superset before applying and narrowed only by members confirmed deleted, and only
when its content changes (a no-op pass writes nothing).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from csops.syncer.applyset import (
    GROUP_KINDS_ANNOTATION,
    ID_LABEL,
    NAMESPACES_ANNOTATION,
    PART_OF_LABEL,
    TOOLING,
    TOOLING_ANNOTATION,
    applyset_id,
)
from csops.syncer.errors import ApiError
from csops.syncer.kube import Kube
from csops.syncer.objects import ObjectId, Resource

__all__ = ["PART_OF_LABEL", "Inventory", "InventoryStore", "applyset_id"]

SECRET = Resource("", "v1", "Secret", "secrets", True)
NAMESPACE = Resource("", "v1", "Namespace", "namespaces", False)


@dataclass
class Inventory:
    members: set[ObjectId] = field(default_factory=set)
    state: dict[str, Any] = field(default_factory=dict)
    versions: dict[ObjectId, str] = field(default_factory=dict)
    """The apiVersion each member was applied at (absent for members recorded before)."""


class InventoryStore:
    """Reads and writes the parent Secret ``<namespace>/<name>``."""

    def __init__(self, kube: Kube, name: str, namespace: str) -> None:
        self.kube = kube
        self.name = name
        self.namespace = namespace
        self.id = applyset_id(name, namespace)
        self._written: dict[str, Any] | None = None

    def read(self) -> Inventory:
        live = self.kube.get_or_none(SECRET, self.namespace, self.name)
        if live is None:
            self._written = None
            return Inventory()
        data = live.get("data") or {}
        members = {ObjectId.parse(s) for s in _decode(data.get("members"), [])}
        state = _decode(data.get("state"), {})
        recorded = _decode(data.get("versions"), {})
        versions = {
            oid: str(recorded[str(oid)])
            for oid in members
            if isinstance(recorded, dict) and str(oid) in recorded
        }
        self._written = self._body(members, state, versions)
        return Inventory(members, state, versions)

    def write(
        self,
        members: Iterable[ObjectId],
        state: dict[str, Any],
        versions: Mapping[ObjectId, str] | None = None,
    ) -> bool:
        """Write the parent when its content changed; True when a write was made.

        ``versions`` gives the apiVersion of members (those it lacks keep none)."""
        body = self._body(set(members), state, versions or {})
        if body == self._written:
            return False
        self.ensure_namespace()
        self.kube.apply(SECRET, body)
        self._written = body
        return True

    def ensure_namespace(self) -> None:
        if self.kube.get_or_none(NAMESPACE, None, self.namespace) is None:
            try:
                self.kube.create(
                    NAMESPACE,
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace}},
                )
            except ApiError as exc:
                if exc.status != HTTPStatus.CONFLICT:  # 409: another creator won the race
                    raise

    def _body(
        self, members: set[ObjectId], state: dict[str, Any], versions: Mapping[ObjectId, str]
    ) -> dict[str, Any]:
        ordered = sorted(members)
        group_kinds = sorted({m.group_kind for m in ordered})
        namespaces = sorted({m.namespace for m in ordered if m.namespace} - {self.namespace})
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": {ID_LABEL: self.id},
                "annotations": {
                    TOOLING_ANNOTATION: TOOLING,
                    GROUP_KINDS_ANNOTATION: ",".join(group_kinds),
                    NAMESPACES_ANNOTATION: ",".join(namespaces),
                },
            },
            "data": {
                "members": _encode([str(m) for m in ordered]),
                "versions": _encode({str(m): versions[m] for m in ordered if m in versions}),
                "state": _encode(state),
            },
        }


def _encode(value: Any) -> str:
    return base64.b64encode(json.dumps(value, sort_keys=True).encode()).decode()


def _decode(value: str | None, default: Any) -> Any:
    if not value:
        return default
    try:
        return json.loads(base64.b64decode(value))
    except ValueError:
        return default
