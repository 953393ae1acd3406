"""Which ClusterClasses are in use: ``spec.topology.class`` of every Cluster, any namespace.

``classNamespace`` (CAPI v1beta1 ``spec.topology.classNamespace``, v1beta2
``spec.topology.classRef.namespace``) defaults to the Cluster's own namespace.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from csops.renderer import class_to_release_name
from csops.syncer.objects import ObjectId

CLUSTER_GROUP = "cluster.x-k8s.io"


@dataclass
class ClassUsage:
    """(namespace, class name) -> the Clusters (``ns/name``) using it."""

    users: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, clusters: Iterable[dict[str, Any]]) -> ClassUsage:
        usage = cls()
        for cluster in clusters:
            meta = cluster.get("metadata") or {}
            topology = (cluster.get("spec") or {}).get("topology") or {}
            ref = topology.get("classRef") or {}
            name = topology.get("class") or ref.get("name")
            if not name:
                continue
            namespace = topology.get("classNamespace") or ref.get("namespace")
            namespace = namespace or meta.get("namespace", "")
            user = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
            usage.users.setdefault((namespace, name), []).append(user)
        return usage

    def releases(self) -> dict[tuple[str, str], list[str]]:
        """(namespace, release name in dash form) -> Clusters."""
        return {(ns, class_to_release_name(c)): u for (ns, c), u in self.users.items()}

    def users_of(
        self, oid: ObjectId, live: dict[str, Any] | None, releases_annotation: str
    ) -> list[str]:
        """Clusters that keep ``oid`` alive: its class, or a release listed on it, is used."""
        found: list[str] = []
        if oid.kind == "ClusterClass" and oid.group == CLUSTER_GROUP:
            found += self.users.get((oid.namespace, oid.name), [])
        if oid.kind == "ClusterStackRelease":
            found += self.releases().get((oid.namespace, oid.name), [])
        annotations = ((live or {}).get("metadata") or {}).get("annotations") or {}
        by_release = self.releases()
        for release in filter(None, annotations.get(releases_annotation, "").split(",")):
            found += by_release.get((oid.namespace, release.strip()), [])
        return sorted(set(found))


def referenced_templates(clusterclass: dict[str, Any]) -> set[ObjectId]:
    """Every ``{apiVersion, kind, name}`` reference inside a ClusterClass spec."""
    namespace = (clusterclass.get("metadata") or {}).get("namespace", "")
    refs: set[ObjectId] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if {"apiVersion", "kind", "name"} <= node.keys() and isinstance(node["name"], str):
                group = str(node["apiVersion"]).rpartition("/")[0]
                refs.add(ObjectId(group, str(node["kind"]), namespace, node["name"]))
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(clusterclass.get("spec") or {})
    return refs
