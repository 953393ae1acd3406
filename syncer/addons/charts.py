"""Addon charts rendered for one cluster, through the renderer's public API, labelled as ours.

Values files are templated with the live ``Cluster``, its control-plane object and its
infrastructure cluster (Helm's engine with sprig, as CSO does); charts render with release name
``cluster-addon``, namespace ``kube-system``, the release's Kubernetes version, CRDs included.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from csops.renderer import INSTANCE_LABEL, RendererError, render_addon
from csops.syncer.addons.cluster import ClusterView, ObjectRef
from csops.syncer.addons.errors import ChartError
from csops.syncer.addons.releases import ReleaseBundle
from csops.syncer.errors import ApiError
from csops.syncer.kube import Kube

OWNED = "owned"
POD_TEMPLATE_KINDS = frozenset({"Deployment", "DaemonSet", "StatefulSet", "ReplicaSet"})


@dataclass(frozen=True)
class ClusterContext:
    """The live objects a values file reads: ``.Cluster``, ``.ControlPlane``, ``.InfraCluster``."""

    cluster: dict[str, Any]
    control_plane: dict[str, Any] | None = None
    infra_cluster: dict[str, Any] | None = None


def context_of(kube: Kube, cluster: ClusterView) -> ClusterContext:
    """The Cluster and the live objects it references (``None`` where one cannot be read)."""
    return ClusterContext(
        cluster.body,
        _referenced(kube, cluster.control_plane_ref),
        _referenced(kube, cluster.infrastructure_ref),
    )


def _referenced(kube: Kube, ref: ObjectRef | None) -> dict[str, Any] | None:
    if ref is None:
        return None
    try:
        if ref.version:
            api_version = f"{ref.group}/{ref.version}" if ref.group else ref.version
            resource = kube.resource(api_version, ref.kind)
        else:
            resource = kube.resource_for_group(ref.group, ref.kind)
        return kube.get_or_none(resource, ref.namespace, ref.name)
    except ApiError:
        return None


def render(
    bundle: ReleaseBundle, chart: str, context: ClusterContext, *, with_values: bool = True
) -> list[dict[str, Any]]:
    """The objects of one chart of ``bundle`` for this cluster (``with_values=False``: no
    overwrite values, as CSO renders charts it deletes)."""
    found = bundle.charts.get(chart)
    if found is None:
        raise ChartError(
            f"release {bundle.name} has no addon chart {chart!r} "
            f"(charts: {', '.join(sorted(bundle.charts)) or 'none'})",
            reason="HelmChartMissing",
        )
    chart_dir, values_file = found
    try:
        objects = render_addon(
            chart_dir,
            kubernetes=bundle.kubernetes,
            values_file=values_file if with_values else None,
            cluster=context.cluster,
            control_plane=context.control_plane,
            infra_cluster=context.infra_cluster,
            display=f"releases/{bundle.name}/cluster-addon"
            + ("" if not bundle.new_convention else f"/{chart}"),
        )
    except RendererError as exc:
        raise ChartError(
            f"release {bundle.name}: addon chart {chart!r} does not template: {exc}",
            reason="HelmChartTemplateFailed",
        ) from exc
    return [owned(obj) for obj in objects]


def owned(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with the instance label on it (and on its pod template), without status."""
    body = copy.deepcopy(obj)
    body.pop("status", None)
    meta = body.setdefault("metadata", {})
    meta["labels"] = {**(meta.get("labels") or {}), INSTANCE_LABEL: OWNED}
    if body.get("kind") in POD_TEMPLATE_KINDS:
        template = (body.get("spec") or {}).get("template")
        if isinstance(template, dict):
            tmeta = template.setdefault("metadata", {})
            tmeta["labels"] = {**(tmeta.get("labels") or {}), INSTANCE_LABEL: OWNED}
    return body
