"""Cluster addons: stage configuration, per-cluster values, and rendering addon charts.

Both conventions of CSO: old (one chart, ``cluster-addon-values.yaml``) and new
(``clusteraddon.yaml`` stages naming charts under ``cluster-addon/``, each with an optional
``overwrite.yaml``). Values files are Go templates over the live ``Cluster``, its control
plane and infrastructure cluster; they go through Helm's engine, not a template language of
our own.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from csops.renderer import documents, gotemplate, helm, schemas
from csops.renderer.errors import HelmError, Problem, ProblemList, SourceError
from csops.renderer.helm import RenderedFile
from csops.renderer.ledger import read_release
from csops.renderer.manifests import parse_files

RELEASE_NAME = "cluster-addon"
NAMESPACE = "kube-system"


class Hook(StrEnum):
    """The CAPI lifecycle hooks CSO runs addon stages for."""

    AFTER_CONTROL_PLANE_INITIALIZED = "AfterControlPlaneInitialized"
    BEFORE_CLUSTER_UPGRADE = "BeforeClusterUpgrade"


class StageAction(StrEnum):
    """What a stage does with its chart."""

    APPLY = "apply"
    DELETE = "delete"


HOOKS = tuple(Hook)
ADDON_CONFIG = "clusteraddon.yaml"
ADDON_VALUES = "cluster-addon-values.yaml"
OVERWRITE = "overwrite.yaml"
ADDON_DIR = "cluster-addon"


@dataclass(frozen=True)
class Condition:
    """A CEL condition over objects fetched from the workload cluster."""

    objects: tuple[dict[str, str], ...]
    expression: str


@dataclass(frozen=True)
class Stage:
    """One step of a hook: apply or delete one addon chart, optionally gated by CEL."""

    name: str
    action: StageAction
    pre: Condition | None = None
    post: Condition | None = None


@dataclass(frozen=True)
class AddonConfig:
    """``clusteraddon.yaml``: stages per CAPI hook (only the two CSO acts on)."""

    stages: dict[str, tuple[Stage, ...]] = field(default_factory=dict)


def _condition(data: dict[str, Any] | None) -> Condition | None:
    if not data:
        return None
    return Condition(tuple(dict(o) for o in data.get("objects") or []), str(data["conditions"]))


def load_config(path: Path, display: str) -> AddonConfig:
    """Parse and validate ``clusteraddon.yaml``."""
    text = documents.read_text(path, display)
    data = documents.loads_one(text, display)
    problems = schemas.validate("clusteraddon", data, display, text)
    if problems:
        raise SourceError(problems)
    stages = {}
    for hook in HOOKS:
        stages[hook.value] = tuple(
            Stage(
                s["name"],
                StageAction(s["action"]),
                _condition(s.get("waitForPreCondition")),
                _condition(s.get("waitForPostCondition")),
            )
            for s in (data["addonStages"].get(hook) or [])
        )
    return AddonConfig(stages)


def check_stage_charts(
    config: AddonConfig, charts: set[str], display: str, text: str
) -> list[Problem]:
    """Stages naming no chart directory under ``cluster-addon/`` (warnings: CSO skips them)."""
    lines = documents.line_index(text)
    problems = []
    for hook, stages in config.stages.items():
        for i, stage in enumerate(stages):
            if stage.name not in charts:
                problems.append(
                    Problem(
                        display,
                        f"stage {stage.name!r} names no chart under cluster-addon/; the stage "
                        "is skipped and the ClusterAddon reports HelmChartFound=False "
                        "(HelmChartMissing), as CSO does",
                        field=f"addonStages.{hook}[{i}].name",
                        line=lines.get(("addonStages", hook, i, "name")),
                        hint=f"available charts: {', '.join(sorted(charts)) or 'none'}",
                    )
                )
    return problems


def sample_cluster(class_name: str, kubernetes: str, namespace: str = "default") -> dict[str, Any]:
    """A plausible Cluster object, used to check that addon values and charts render."""
    return {
        "apiVersion": "cluster.x-k8s.io/v1beta1",
        "kind": "Cluster",
        "metadata": {
            "name": "sample",
            "namespace": namespace,
            "uid": "00000000-0000-0000-0000-000000000000",
        },
        "spec": {
            "clusterNetwork": {
                "pods": {"cidrBlocks": ["192.168.0.0/16"]},
                "services": {"cidrBlocks": ["10.96.0.0/12"]},
            },
            "controlPlaneEndpoint": {"host": "203.0.113.10", "port": 6443},
            "topology": {
                "class": class_name,
                "version": kubernetes,
                "variables": [],
                "controlPlane": {"replicas": 1},
            },
        },
    }


def template_values(
    text: str,
    cluster: dict[str, Any],
    *,
    display: str,
    control_plane: dict[str, Any] | None = None,
    infra_cluster: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluate a values file for one cluster: the ``values`` string if present, else the doc.

    The template's dot holds ``Cluster`` and, when the Cluster references them, its
    ``ControlPlane`` and ``InfraCluster`` objects, as in CSO.
    """
    dot = {"Cluster": cluster}
    if control_plane is not None:
        dot["ControlPlane"] = control_plane
    if infra_cluster is not None:
        dot["InfraCluster"] = infra_cluster
    rendered = helm.template_values(text, dot, display=display)
    doc = documents.loads_one(rendered, display) or {}
    if isinstance(doc, dict) and isinstance(doc.get("values"), str):
        doc = documents.loads_one(doc["values"], f"{display} (values)") or {}
    if not isinstance(doc, dict):
        raise SourceError(Problem(display, "does not render to a mapping of Helm values"))
    return doc


def render_addon(
    chart_dir: Path,
    *,
    kubernetes: str,
    values_file: Path | None,
    cluster: dict[str, Any],
    control_plane: dict[str, Any] | None = None,
    infra_cluster: dict[str, Any] | None = None,
    display: str,
) -> list[dict[str, Any]]:
    """Render one addon chart for one cluster, as CSO does (CRDs included, kube-system)."""
    values = None
    if values_file is not None and values_file.is_file():
        beside = values_file.parent != chart_dir
        values_display = f"{display.rsplit('/', 1)[0] if beside else display}/{values_file.name}"
        values = template_values(
            documents.read_text(values_file, values_display),
            cluster,
            display=values_display,
            control_plane=control_plane,
            infra_cluster=infra_cluster,
        )
    files: list[RenderedFile] = helm.render_chart(
        chart_dir,
        release_name=RELEASE_NAME,
        namespace=NAMESPACE,
        kube_version=kubernetes,
        values=values,
        include_crds=True,
        display=display,
    )
    problems = ProblemList()
    objects = parse_files(files, display, problems)
    problems.raise_if_any()
    return objects


def addon_charts(release_dir: Path, new_convention: bool) -> dict[str, tuple[Path, Path | None]]:
    """Addon charts of a release bundle: name → (chart dir, values file or None).

    A bundle with CSO's archives only has its addon archive unpacked into a cache first.
    """
    base: Path | None = release_dir / ADDON_DIR
    if not release_dir.joinpath(ADDON_DIR).is_dir():
        base = read_release(release_dir, release_dir.name).addon_root(new_convention)
    if base is None:
        return {}
    if not new_convention:
        return {ADDON_DIR: (base, release_dir / ADDON_VALUES)}
    return {
        p.name: (p, p / OVERWRITE) for p in sorted(base.iterdir()) if (p / "Chart.yaml").is_file()
    }


SAMPLE_HINT = (
    "checked against a sample Cluster only; a real Cluster may have what the template reads, "
    "and csops renders the addons per cluster when it syncs"
)


def _sample_warning(problem: Problem) -> Problem:
    return Problem(
        problem.file,
        f"could not be checked against a sample Cluster: {problem.message}",
        problem.field,
        problem.line,
        SAMPLE_HINT,
    )


def _cso_functions(text: str, display: str) -> list[Problem]:
    """Functions a values file calls that CSO's text/template with slim-sprig does not have."""
    return [
        Problem(
            display,
            f"calls {name!r}, which CSO's values templating (text/template with slim-sprig) "
            "does not have: the Cluster Stack Operator would fail on this file",
            line=line,
            hint="use a sprig function both know, or accept that only csops renders it",
        )
        for name, line in gotemplate.functions(text)
        if name not in gotemplate.CSO_FUNCTIONS
    ]


def check_release_addons(
    release_dir: Path, class_name: str, kubernetes: str, display: str
) -> tuple[list[Problem], list[Problem]]:
    """Check a release's addons: (problems, warnings).

    Problems are what no cluster can fix: a malformed ``clusteraddon.yaml``, a chart Helm
    cannot load. Everything checked against the sample Cluster is a warning: stages naming no
    chart (CSO skips them), values templates reading what the sample lacks, renders that
    fail or repeat an object.
    """
    problems = ProblemList()
    warnings: list[Problem] = []
    new = (release_dir / ADDON_CONFIG).is_file()
    charts = addon_charts(release_dir, new)
    if new:
        config_path = release_dir / ADDON_CONFIG
        try:
            config = load_config(config_path, f"{display}/{ADDON_CONFIG}")
            warnings += check_stage_charts(
                config,
                set(charts),
                f"{display}/{ADDON_CONFIG}",
                documents.read_text(config_path, f"{display}/{ADDON_CONFIG}"),
            )
        except SourceError as exc:
            problems.extend(exc.problems)
    cluster = sample_cluster(class_name, kubernetes)
    for name, (chart_dir, values_file) in charts.items():
        where = f"{display}/{ADDON_DIR}" + (f"/{name}" if new else "")
        try:
            helm.chart_metadata(chart_dir)
        except HelmError as exc:
            problems.extend([dataclasses.replace(p, file=where) for p in exc.problems])
            continue
        if values_file is not None and values_file.is_file():
            values_display = f"{display}/{values_file.relative_to(release_dir).as_posix()}"
            try:
                text = documents.read_text(values_file, values_display)
            except SourceError as exc:
                problems.extend(exc.problems)
                continue
            warnings += _cso_functions(text, values_display)
        try:
            objects = render_addon(
                chart_dir,
                kubernetes=kubernetes,
                values_file=values_file,
                cluster=cluster,
                display=where,
            )
        except (SourceError, HelmError) as exc:
            warnings += [_sample_warning(p) for p in exc.problems]
            continue
        seen: set[tuple[str, str, str, str]] = set()
        for obj in objects:
            meta = obj.get("metadata") or {}
            key = (obj["apiVersion"], obj["kind"], str(meta.get("namespace", "")), meta["name"])
            if key in seen:
                warnings.append(
                    _sample_warning(Problem(where, f"renders {obj['kind']} {meta['name']} twice"))
                )
            seen.add(key)
    return problems.problems, warnings
