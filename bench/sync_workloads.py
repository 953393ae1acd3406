"""Synthetic manifests for the sync benchmarks, laid out like ``rendered/manifests``.

A workload is ``N`` namespaced objects (ConfigMap, Secret, headless Service, ServiceAccount in
turn) spread over a few namespaces, one object per file at
``ROOT/rendered/manifests/<namespace>/<kind>/<name>.yaml``. Every object carries the label
``bench.csops.dev/set`` (to find the set in the API) and the annotation ``bench.csops.dev/rev``
(bumped by :func:`rewrite` to make a new revision in which every object changed).

Services are headless (``clusterIP: None``): the control plane's service range is a /24, and a
benchmark that creates thousands of Services must not run out of cluster IPs.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MANIFESTS = "rendered/manifests"
SET_LABEL = "bench.csops.dev/set"
REV_ANNOTATION = "bench.csops.dev/rev"
KINDS = ("ConfigMap", "Secret", "Service", "ServiceAccount")
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@dataclass(frozen=True)
class Item:
    """One generated object: kind, namespace, name and the file it lives in."""

    kind: str
    namespace: str
    name: str

    @property
    def relpath(self) -> Path:
        """Its file below the manifests directory."""
        return Path(self.namespace) / self.kind.lower() / f"{self.name}.yaml"


@dataclass
class ManifestSet:
    """A generated set of manifests and where it lives."""

    root: Path
    set_id: str
    namespaces: list[str]
    items: list[Item] = field(default_factory=list)
    rev: int = 1

    @property
    def manifests(self) -> Path:
        """The manifests directory (``ROOT/rendered/manifests``)."""
        return self.root / MANIFESTS

    @property
    def selector(self) -> str:
        """Label selector matching every object of the set."""
        return f"{SET_LABEL}={self.set_id}"


def body(item: Item, set_id: str, rev: int) -> dict[str, Any]:
    """The object for ``item`` at revision ``rev``."""
    meta: dict[str, Any] = {
        "name": item.name,
        "namespace": item.namespace,
        "labels": {SET_LABEL: set_id, "app.kubernetes.io/name": item.name},
        "annotations": {REV_ANNOTATION: str(rev)},
    }
    payload = f"{item.name} revision {rev} " + "x" * 160
    if item.kind == "ConfigMap":
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta,
            "data": {"revision": str(rev), "config.yaml": payload, "mode": "bench"},
        }
    if item.kind == "Secret":
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": meta,
            "data": {
                "token": base64.b64encode(payload.encode()).decode(),
                "revision": base64.b64encode(str(rev).encode()).decode(),
            },
        }
    if item.kind == "Service":
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta,
            "spec": {
                "clusterIP": "None",
                "selector": {"app.kubernetes.io/name": item.name},
                "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
            },
        }
    if item.kind == "ServiceAccount":
        return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta}
    raise ValueError(f"unknown kind {item.kind}")


def namespace_count(objects: int) -> int:
    """About 100 objects per namespace, between 2 and 10 namespaces."""
    return max(2, min(10, objects // 100))


def plan_objects(objects: int, namespaces: list[str]) -> list[Item]:
    """``objects`` items, kinds in turn, spread round-robin over ``namespaces``."""
    return [
        Item(KINDS[i % len(KINDS)], namespaces[i % len(namespaces)], f"obj-{i:05d}")
        for i in range(objects)
    ]


def plan_units(units: int, namespaces: list[str]) -> list[Item]:
    """Flux's shape: ``units`` units of four objects (one of each kind) named after the unit."""
    return [
        Item(kind, namespaces[u % len(namespaces)], f"unit-{u:04d}")
        for u in range(units)
        for kind in KINDS
    ]


def _write_file(path: Path, data: dict[str, Any]) -> None:
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False)
    path.write_text(text, encoding="utf-8")


def write(root: Path, set_id: str, namespaces: list[str], items: list[Item]) -> ManifestSet:
    """Write every item as one file below ``root/rendered/manifests``."""
    ms = ManifestSet(root, set_id, namespaces, items)
    made: set[Path] = set()
    for item in items:
        path = ms.manifests / item.relpath
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        _write_file(path, body(item, set_id, ms.rev))
    return ms


def remove(ms: ManifestSet, count: int) -> list[Item]:
    """Delete the files of the last ``count`` items (a revision that drops them)."""
    gone = ms.items[len(ms.items) - count :]
    for item in gone:
        (ms.manifests / item.relpath).unlink()
    ms.items = ms.items[: len(ms.items) - count]
    return gone


def rewrite(ms: ManifestSet) -> int:
    """A new revision in which every object changed; each file replaced atomically.

    Each file is written to a temporary name in its directory and renamed over the old one,
    so a reader never sees a half-written file. Returns the new revision number.
    """
    ms.rev += 1
    for item in ms.items:
        path = ms.manifests / item.relpath
        tmp = path.with_name(f".{path.name}.tmp")
        _write_file(tmp, body(item, ms.set_id, ms.rev))
        tmp.replace(path)
    return ms.rev
