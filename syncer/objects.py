"""Object identities and REST resources: the nouns every other module speaks in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, order=True)
class ObjectId:
    """``group``/``kind`` ``namespace``/``name`` (namespace empty for cluster-scoped)."""

    group: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: dict[str, Any]) -> ObjectId:
        api_version = str(obj.get("apiVersion", ""))
        group = api_version.rpartition("/")[0]
        meta = obj.get("metadata") or {}
        name = str(meta.get("name", ""))
        return cls(group, str(obj.get("kind", "")), str(meta.get("namespace") or ""), name)

    @classmethod
    def parse(cls, text: str) -> ObjectId:
        """Inverse of :meth:`__str__` (ApplySet-style ``ns_name_group_kind`` is not used)."""
        group_kind, _, ref = text.partition(" ")
        kind, _, group = group_kind.partition(".")
        namespace, _, name = ref.rpartition("/")
        return cls(group, kind, namespace, name)

    @property
    def group_kind(self) -> str:
        """``Kind.group`` as in ApplySet's contains-group-kinds (``Kind`` for the core group)."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    def __str__(self) -> str:
        ref = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.group_kind} {ref}"


@dataclass(frozen=True)
class Reference:
    """An object by type and place: what a status write or an Event names."""

    api_version: str
    kind: str
    namespace: str
    name: str

    def skeleton(self) -> dict[str, Any]:
        """The object's identity as a body (what an Event needs when the object is unread)."""
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "metadata": {"name": self.name, "namespace": self.namespace},
        }

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True)
class Resource:
    """A REST resource from discovery."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version
