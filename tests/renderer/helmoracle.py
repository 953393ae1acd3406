"""Helm as an oracle: what ``helm template`` gives for a release's class chart, next to what
``csops render`` committed for it.

CSO renders a release's class chart with ``helm template P-N-M-m <chart> --namespace <ns>``
and applies every object into that namespace; csops commits those objects with its release
annotation and the instance label. The oracle loads the chart (directory or archive) with
``helm_python``'s public API, renders it with nothing but a release name and a namespace,
and strips what csops adds, so the two sides must be equal object by object.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from helm_python import Chart

ADDED_BY_CSOPS = ("csops.io/releases", "clusterstack.x-k8s.io/instance")
CSOPS_OWN_KINDS = ("ClusterStackRelease", "ConfigMap", "ClusterStack", "Namespace")


def helm_template(chart_path: Path, release: str, namespace: str) -> list[dict[str, Any]]:
    """``helm template RELEASE CHART --namespace NS``, each object put into NS as CSO does."""
    with Chart.load(chart_path) as chart:
        rendered = chart.render(name=release, namespace=namespace)
    objects = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        objects += [d for d in yaml.safe_load_all(text) if d]
    for obj in objects:
        obj.setdefault("metadata", {})["namespace"] = namespace
    return sorted(objects, key=key)


def committed(repo: Path, release: str, namespace: str) -> list[dict[str, Any]]:
    """What ``csops render`` committed for ``release`` in ``namespace``, minus csops's marks
    and csops's own objects (ClusterStackRelease, the node-image ConfigMap)."""
    found = []
    for path in (repo / "rendered/manifests" / namespace).rglob("*.yaml"):
        obj = yaml.safe_load(path.read_text())
        meta = obj.get("metadata") or {}
        owners = (meta.get("annotations") or {}).get("csops.io/releases", "").split(",")
        if release not in owners or obj["kind"] in CSOPS_OWN_KINDS:
            continue
        for part in ("annotations", "labels"):
            kept = {k: v for k, v in (meta.get(part) or {}).items() if k not in ADDED_BY_CSOPS}
            if kept:
                meta[part] = kept
            else:
                meta.pop(part, None)
        found.append(obj)
    return sorted(found, key=key)


def key(obj: dict[str, Any]) -> tuple[str, str, str]:
    """Sort key: apiVersion, kind, name."""
    return obj["apiVersion"], obj["kind"], obj["metadata"]["name"]
