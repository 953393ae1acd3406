"""Checks on a rendered ClusterClass: its name, the templates it references, CAPI templates.

CAPI patch templates (``enabledIf``, ``valueFrom.template``) use Go template syntax too; a
stack must escape them from Helm. An unescaped one is evaluated by Helm and reaches the
ClusterClass as a constant, which this module reports.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from csops.renderer.errors import Problem
from csops.renderer.manifests import Identity, group_of, identity

_FIELD = re.compile(r"(?<![\w$)\]])\.([A-Za-z_]\w*)")
_HELM_OBJECTS = {"Values", "Release", "Chart", "Capabilities", "Files", "Template", "Subcharts"}
_BUILTIN = "builtin"


def _ref_paths(spec: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    infra = spec.get("infrastructure") or {}
    yield "spec.infrastructure.ref", infra.get("ref") or infra.get("templateRef")
    cp = spec.get("controlPlane") or {}
    yield "spec.controlPlane.ref", cp.get("ref") or cp.get("templateRef")
    mi = cp.get("machineInfrastructure") or {}
    if mi:
        yield "spec.controlPlane.machineInfrastructure.ref", mi.get("ref") or mi.get("templateRef")
    workers = spec.get("workers") or {}
    for key in ("machineDeployments", "machinePools"):
        for i, md in enumerate(workers.get(key) or []):
            template = md.get("template") or md
            for part in ("bootstrap", "infrastructure"):
                ref = template.get(part) or {}
                yield (
                    f"spec.workers.{key}[{i}].template.{part}.ref",
                    ref.get("ref") or ref.get("templateRef"),
                )


def check_references(objects: list[dict[str, Any]], where: str) -> list[Problem]:
    """Every template a ClusterClass references must be among the rendered objects."""
    present = {identity(o) for o in objects}
    problems = []
    for obj in objects:
        if obj.get("kind") != "ClusterClass":
            continue
        ns = (obj.get("metadata") or {}).get("namespace", "")
        for field, ref in _ref_paths(obj.get("spec") or {}):
            if not ref:
                continue
            target = Identity(
                group_of(ref),
                str(ref.get("kind", "")),
                str(ref.get("namespace") or ns),
                str(ref.get("name", "")),
            )
            if target not in present:
                problems.append(
                    Problem(
                        where,
                        f"ClusterClass {obj['metadata']['name']} references {target}, "
                        "which the chart does not render",
                        field=field,
                        hint="render the template in the cluster-class chart or fix the reference",
                    )
                )
    return problems


def check_names(objects: list[dict[str, Any]], expected: str, where: str) -> list[Problem]:
    """The chart must render exactly the ClusterClass CSO expects for this release."""
    classes = [o["metadata"]["name"] for o in objects if o.get("kind") == "ClusterClass"]
    if classes == [expected]:
        return []
    if not classes:
        return [Problem(where, "renders no ClusterClass", hint=f"expected {expected}")]
    return [
        Problem(
            where,
            f"renders ClusterClass {', '.join(classes)}; expected exactly {expected}",
            hint="name it {{ .Release.Name }}-{{ .Chart.Version }}",
        )
    ]


def _actions(text: str) -> Iterator[tuple[int, str]]:
    """Helm actions ``{{ … }}`` with their offsets; quoted and raw strings are skipped whole."""
    i = 0
    while (start := text.find("{{", i)) != -1:
        j = start + 2
        while j < len(text) and not text.startswith("}}", j):
            if text[j] in '`"':
                quote = text[j]
                j += 1
                while j < len(text) and text[j] != quote:
                    j += 2 if quote == '"' and text[j] == "\\" else 1
            j += 1
        yield start, text[start : j + 2]
        i = j + 2


def _strip_strings(action: str) -> str:
    return re.sub(r'`[^`]*`|"(?:\\.|[^"\\])*"', '""', action)


def variables_of(objects: list[dict[str, Any]]) -> set[str]:
    """Variable names the rendered ClusterClasses declare."""
    names = {_BUILTIN}
    for obj in objects:
        if obj.get("kind") == "ClusterClass":
            for var in (obj.get("spec") or {}).get("variables") or []:
                names.add(str(var.get("name", "")))
    return names


def unescaped_templates(chart_dir: Path, variables: set[str], display: str) -> list[Problem]:
    """Helm actions in the chart's templates that read ClusterClass variables.

    ``{{ ne .imageRepository "" }}`` is evaluated by Helm (``.imageRepository`` is nil there)
    and CAPI receives a constant; it should be written ``{{ `{{ ne .imageRepository "" }}` }}``.
    """
    warnings = []
    templates = chart_dir / "templates"
    if not templates.is_dir():
        return []
    for path in sorted(templates.rglob("*")):
        if not path.is_file() or path.suffix not in (".yaml", ".yml", ".tpl"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for start, action in _actions(text):
            body = _strip_strings(action[2:-2])
            if body.strip("- ").startswith("/*"):
                continue
            fields = {f for f in _FIELD.findall(body) if f not in _HELM_OBJECTS}
            hits = sorted(fields & variables)
            if hits:
                line = text.count("\n", 0, start) + 1
                rel = path.relative_to(chart_dir).as_posix()
                warnings.append(
                    Problem(
                        f"{display}/{rel}",
                        f"Helm evaluates {action!r} itself, so CAPI never "
                        f"sees the variable(s) {', '.join(hits)}",
                        line=line,
                        hint="escape it for CAPI: {{ `" + action + "` }}",
                    )
                )
    return warnings
