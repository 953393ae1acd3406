"""What Cluster API's ClusterClass webhook would reject, found at render time (pure).

Mirrors the create-time validation of Cluster API v1.14 (``core/webhooks/admission``:
``clusterclass.go``, ``patch_validation.go``; ``internal/topology/check`` and
``internal/topology/variables``), so ``csops validate`` fails where a sync would later be
refused by the management cluster:

- **template references**: name set, kind ``<Something>Template``, a valid apiVersion;
  MachineDeployment and MachinePool class names unique;
- **variables**: names (set, unique, not ``builtin``, no ``.``) and OpenAPI schemas (known
  types, structural: a type on every node and ``items`` on arrays, ``properties`` and
  ``additionalProperties`` exclusive; ``default``, ``example`` and ``enum`` valid against the
  schema, defaults without unknown fields; ``x-kubernetes-validations`` rules that parse);
- **patches**: names (set, unique), definitions or external, JSON patch ops, ``/spec`` paths
  and array indexes, one of ``value`` / ``valueFrom`` and one of its ``variable`` /
  ``template``, variables and builtins that exist, selectors that match one of the class's
  templates (apiVersion and kind), Go templates (``enabledIf``, ``valueFrom.template``) that
  parse with CAPI's functions (:mod:`csops.renderer.templatesyntax`).

A ClusterClass may be v1beta1 (``ref``) or v1beta2 (``templateRef``); fields are named as the
class spells them. Not covered: naming-strategy templates, metadata labels, MachineHealthCheck
and rollout settings, and everything that needs the cluster (updates, Clusters using it).

Why one long module: it mirrors one webhook's rule set check by check; split by rule family,
the checks of one Cluster API file would be spread over several of ours.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import jsonschema

from csops.renderer.errors import Problem
from csops.renderer.templatesyntax import parse_error

VARIABLE_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean"})
PATCH_OPS = ("add", "remove", "replace")
HINT = "Cluster API's ClusterClass webhook refuses this"
_BUILTIN_PREFIXES = {
    "builtin": [""],
    "builtin.cluster": [
        "",
        ".name",
        ".namespace",
        ".uid",
        ".metadata.labels",
        ".metadata.annotations",
        ".topology",
        ".topology.classRef.name",
        ".topology.classRef.namespace",
        ".topology.class",
        ".topology.classNamespace",
        ".topology.version",
        ".network",
        ".network.serviceDomain",
        ".network.services",
        ".network.pods",
    ],
    "builtin.controlPlane": [
        "",
        ".name",
        ".replicas",
        ".version",
        ".metadata.labels",
        ".metadata.annotations",
        ".machineTemplate.infrastructureRef.name",
    ],
    **{
        f"builtin.{workers}": [
            "",
            ".class",
            ".name",
            ".replicas",
            ".topologyName",
            ".version",
            ".metadata.labels",
            ".metadata.annotations",
            ".bootstrap.configRef.name",
            ".infrastructureRef.name",
        ]
        for workers in ("machineDeployment", "machinePool")
    },
}
BUILTIN_VARIABLES = frozenset(
    prefix + suffix for prefix, suffixes in _BUILTIN_PREFIXES.items() for suffix in suffixes
)
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$")


class _Report:
    def __init__(self, where: str, class_name: str) -> None:
        self.where = where
        self.class_name = class_name
        self.problems: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(
            Problem(self.where, f"ClusterClass {self.class_name}: {message}", path, hint=HINT)
        )


def check(objects: list[dict[str, Any]], where: str) -> list[Problem]:
    """Problems CAPI's webhook would report for every ClusterClass among ``objects``."""
    problems: list[Problem] = []
    for obj in objects:
        if obj.get("kind") == "ClusterClass" and str(obj.get("apiVersion", "")).startswith(
            "cluster.x-k8s.io/"
        ):
            report = _Report(where, str((obj.get("metadata") or {}).get("name", "")))
            spec = obj.get("spec") or {}
            _check_templates(spec, report)
            _check_variables(spec.get("variables") or [], report)
            _check_patches(spec, report)
            problems += report.problems
    return problems


# ------------------------------------------------------------------------- template references
def _ref(holder: dict[str, Any] | None) -> tuple[str, dict[str, Any]] | None:
    """(field name, reference) of a v1beta1 ``ref`` or v1beta2 ``templateRef``."""
    holder = holder or {}
    for key in ("templateRef", "ref"):
        if isinstance(holder.get(key), dict):
            return key, holder[key]
    return None


def template_refs(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(field path, reference) of every template a ClusterClass spec references."""
    holders: list[tuple[str, Any]] = [
        ("spec.infrastructure", spec.get("infrastructure")),
        ("spec.controlPlane", spec.get("controlPlane")),
    ]
    machine_infra = (spec.get("controlPlane") or {}).get("machineInfrastructure")
    if machine_infra:
        holders.append(("spec.controlPlane.machineInfrastructure", machine_infra))
    workers = spec.get("workers") or {}
    for key in ("machineDeployments", "machinePools"):
        for i, worker in enumerate(workers.get(key) or []):
            template = worker.get("template") or {}
            prefix = f"spec.workers.{key}[{i}]"
            for part in ("bootstrap", "infrastructure"):
                if part in template:
                    holders.append((f"{prefix}.template.{part}", template[part]))
                else:
                    holders.append((f"{prefix}.{part}", worker.get(part)))
    for path, holder in holders:
        found = _ref(holder)
        if found is not None:
            yield f"{path}.{found[0]}", found[1]
        else:
            yield f"{path}.ref", {}


def _check_templates(spec: dict[str, Any], report: _Report) -> None:
    for path, ref in template_refs(spec):
        if not ref.get("name"):
            report.add(f"{path}.name", "template name must be defined")
        kind = str(ref.get("kind", ""))
        if len(kind) <= len("Template") or not kind.endswith("Template"):
            report.add(f"{path}.kind", f'template kind must be of form "<name>Template": {kind!r}')
        api_version = str(ref.get("apiVersion", ""))
        if "apiVersion" in ref or path.endswith(".ref") or path.endswith(".templateRef"):
            if not api_version:
                report.add(f"{path}.apiVersion", "template apiVersion must be defined")
            elif api_version.count("/") > 1 or not api_version.rsplit("/", 1)[-1]:
                report.add(
                    f"{path}.apiVersion",
                    f"template apiVersion must be a valid Kubernetes apiVersion: {api_version!r}",
                )
    workers = spec.get("workers") or {}
    for key, label in (
        ("machineDeployments", "MachineDeployment"),
        ("machinePools", "MachinePool"),
    ):
        seen: set[str] = set()
        for i, worker in enumerate(workers.get(key) or []):
            name = str(worker.get("class", ""))
            if name in seen:
                report.add(
                    f"spec.workers.{key}[{i}].class",
                    f"{label} class must be unique. {label}Class with name {name!r} "
                    "is defined more than once",
                )
            seen.add(name)


# ------------------------------------------------------------------------- variables
def _check_variables(variables: list[dict[str, Any]], report: _Report) -> None:
    seen: set[str] = set()
    for variable in variables:
        name = str(variable.get("name", ""))
        path = f"spec.variables[{name}]"
        if name in seen:
            report.add(
                f"{path}.name",
                f"variable name must be unique. Variable with name {name!r} is defined more "
                "than once",
            )
        seen.add(name)
        if not name:
            report.add(f"{path}.name", "variable name must be defined")
        if name == "builtin":
            report.add(f"{path}.name", '"builtin" is a reserved variable name')
        if "." in name:
            report.add(f"{path}.name", 'variable name cannot contain "."')
        schema = (variable.get("schema") or {}).get("openAPIV3Schema")
        if not isinstance(schema, dict):
            report.add(f"{path}.schema.openAPIV3Schema", "the variable has no schema")
            continue
        _check_schema(schema, f"{path}.schema.openAPIV3Schema", report)


def _structural_errors(schema: dict[str, Any], path: str) -> Iterator[tuple[str, str]]:
    """What ``ValidateStructural`` and the type check of ``validateSchema`` report."""
    kind = schema.get("type")
    open_type = schema.get("x-kubernetes-int-or-string") or schema.get(
        "x-kubernetes-preserve-unknown-fields"
    )
    if kind and kind not in VARIABLE_TYPES:
        yield (
            f"{path}.type",
            f"unsupported type {kind!r}; supported: {', '.join(sorted(VARIABLE_TYPES))}",
        )
        return
    if not kind and not open_type:
        yield f"{path}.type", "must not be empty for specified fields"
    if kind == "array" and not isinstance(schema.get("items"), dict):
        yield f"{path}.items", "must be specified"
    properties = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    if properties and isinstance(additional, dict):
        yield path, "additionalProperties and properties are mutually exclusive"
    for name, child in sorted(properties.items()):
        if isinstance(child, dict):
            yield from _structural_errors(child, f"{path}.properties[{name}]")
    if isinstance(additional, dict):
        yield from _structural_errors(additional, f"{path}.additionalProperties")
    if isinstance(schema.get("items"), dict):
        yield from _structural_errors(schema["items"], f"{path}.items")


def json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI v3 (Kubernetes flavour) schema as a JSON Schema draft-4 document."""
    out = copy.deepcopy(schema)
    for key in ("default", "example", "x-kubernetes-validations", "x-metadata"):
        out.pop(key, None)
    if out.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [*out.get("anyOf", []), {"type": "integer"}, {"type": "string"}]
    if out.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if isinstance(out.get("properties"), dict):
        out["properties"] = {k: json_schema(v) for k, v in out["properties"].items()}
    for key in ("items", "additionalProperties", "not"):
        if isinstance(out.get(key), dict):
            out[key] = json_schema(out[key])
    for key in ("allOf", "anyOf", "oneOf"):
        if isinstance(out.get(key), list):
            out[key] = [json_schema(s) if isinstance(s, dict) else s for s in out[key]]
    return out


def _value_errors(value: Any, schema: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft4Validator(json_schema(schema))
    return [
        f"{'.'.join(str(p) for p in e.absolute_path) or 'value'}: {e.message}"
        for e in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    ]


def _unknown_fields(value: Any, schema: dict[str, Any], path: str = "") -> Iterator[str]:
    """Fields of a default that pruning would drop (CAPI rejects such defaults)."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return
    if isinstance(value, dict) and schema.get("type") == "object":
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key, item in value.items():
            if key in properties:
                yield from _unknown_fields(item, properties[key], f"{path}.{key}")
            elif isinstance(additional, dict):
                yield from _unknown_fields(item, additional, f"{path}.{key}")
            elif additional is not True:
                yield f"{path}.{key}".lstrip(".")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            yield from _unknown_fields(item, schema["items"], f"{path}[{i}]")


def _check_schema(schema: dict[str, Any], path: str, report: _Report) -> None:
    structural = list(_structural_errors(schema, path))
    for field, message in structural:
        report.add(field, message)
    if structural:
        return
    for field, node in _nodes(schema, path):
        if "default" in node:
            for error in _value_errors(node["default"], node):
                report.add(f"{field}.default", f"invalid default: {error}")
            unknown = list(_unknown_fields(node["default"], node))
            if unknown:
                report.add(
                    f"{field}.default", f"must not have unknown fields: {', '.join(unknown)}"
                )
        if "example" in node:
            for error in _value_errors(node["example"], node):
                report.add(f"{field}.example", f"invalid example: {error}")
        for i, value in enumerate(node.get("enum") or []):
            for error in _value_errors(value, node):
                report.add(f"{field}.enum[{i}]", f"invalid enum value: {error}")
        for i, rule in enumerate(node.get("x-kubernetes-validations") or []):
            cel_problem = _cel_error(str((rule or {}).get("rule", "")))
            if cel_problem:
                report.add(f"{field}.x-kubernetes-validations[{i}].rule", cel_problem)


def _nodes(schema: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, schema
    for name, child in sorted((schema.get("properties") or {}).items()):
        yield from _nodes(child, f"{path}.properties[{name}]")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from _nodes(schema[key], f"{path}.{key}")


def _cel_error(rule: str) -> str | None:
    if not rule.strip():
        return "rule must not be empty"
    import celpy  # the CEL engine is imported only when a schema has rules
    from celpy.celparser import CELParseError

    try:
        celpy.Environment().compile(rule)
    except CELParseError as exc:
        detail = " ".join(str(exc).split())
        return f"compilation failed: {detail}"
    return None


# ------------------------------------------------------------------------- patches
def _check_patches(spec: dict[str, Any], report: _Report) -> None:
    variables = {str(v.get("name", "")) for v in spec.get("variables") or []}
    refs = dict(template_refs(spec))
    names: set[str] = set()
    for i, patch in enumerate(spec.get("patches") or []):
        path = f"spec.patches[{i}]"
        name = str(patch.get("name", ""))
        if not name:
            report.add(f"{path}.name", "patch name must be defined")
        if name == "inline":
            report.add(f"{path}.name", '"inline" can not be used as the name of a patch')
        if name and name in names:
            report.add(
                f"{path}.name",
                f"patch names must be unique. Patch with name {name!r} is defined more than once",
            )
        names.add(name)
        enabled_if = patch.get("enabledIf")
        if enabled_if:
            error = parse_error(str(enabled_if))
            if error:
                report.add(f"{path}.enabledIf", f"template can not be parsed: {error}")
        definitions, external = patch.get("definitions"), patch.get("external")
        if definitions is None and external is None:
            report.add(path, "one of definitions or external must be defined")
        if definitions is not None and external is not None:
            report.add(path, "only one of definitions or external can be defined")
        for j, definition in enumerate(definitions or []):
            where = f"{path}.definitions[{j}]"
            for k, json_patch in enumerate(definition.get("jsonPatches") or []):
                _check_json_patch(json_patch, variables, f"{where}.jsonPatches[{k}]", report)
            _check_selector(
                definition.get("selector") or {}, spec, refs, f"{where}.selector", report
            )
        if isinstance(external, dict) and not any(
            external.get(k)
            for k in (
                "generatePatchesExtension",
                "validateTopologyExtension",
                "generateExtension",
                "validateExtension",
            )
        ):
            report.add(
                f"{path}.external",
                "one of the generate and validate extensions must be defined",
            )


def _check_json_patch(
    json_patch: dict[str, Any], variables: set[str], path: str, report: _Report
) -> None:
    op = json_patch.get("op")
    if op not in PATCH_OPS:
        report.add(f"{path}.op", f"unsupported op {op!r}; supported: {', '.join(PATCH_OPS)}")
    target = str(json_patch.get("path", ""))
    if not target.startswith("/spec"):
        report.add(f"{path}.path", f'jsonPatch path must start with "/spec": {target!r}')
    for part in target.split("/"):
        if not part.lstrip("-").isdigit():
            continue
        if op == "add" and int(part) != 0:
            report.add(
                f"{path}.path",
                f'{target}: arrays can only be accessed using "0" (prepend) or "-" (append)',
            )
        if op in {"replace", "remove"}:
            report.add(
                f"{path}.path",
                f"{target}: elements in arrays can not be accessed in a {op} operation",
            )
    if op not in {"add", "replace"}:
        return
    has_value, value_from = "value" in json_patch, json_patch.get("valueFrom")
    if not has_value and value_from is None:
        report.add(path, "jsonPatch must define one of value or valueFrom")
    if has_value and value_from is not None:
        report.add(path, "jsonPatch can not define both value and valueFrom")
    if value_from is None:
        return
    variable, template = value_from.get("variable"), value_from.get("template")
    if not variable and not template:
        report.add(f"{path}.valueFrom", "valueFrom must set either template or variable")
    if variable and template:
        report.add(f"{path}.valueFrom", "valueFrom can not set both template and variable")
    if template:
        error = parse_error(str(template))
        if error:
            report.add(f"{path}.valueFrom.template", f"template can not be parsed: {error}")
    if variable:
        variable = str(variable)
        if variable.startswith("builtin."):
            if variable not in BUILTIN_VARIABLES:
                report.add(
                    f"{path}.valueFrom.variable", f"{variable}: not a defined builtin variable"
                )
        elif re.split(r"[\[.]", variable)[0] not in variables:
            report.add(
                f"{path}.valueFrom.variable", f"variable with name {variable} cannot be found"
            )


def _matches(selector: dict[str, Any], ref: dict[str, Any]) -> bool:
    return bool(ref) and (
        selector.get("apiVersion") == ref.get("apiVersion")
        and selector.get("kind") == ref.get("kind")
    )


def _class_matches(pattern: str, name: str) -> bool:
    if pattern in {name, "*"}:
        return True
    if pattern.startswith("*"):
        return name.endswith(pattern[1:])
    if pattern.endswith("*"):
        return name.startswith(pattern[:-1])
    return False


def _check_selector(
    selector: dict[str, Any],
    spec: dict[str, Any],
    refs: dict[str, dict[str, Any]],
    path: str,
    report: _Report,
) -> None:
    match = selector.get("matchResources") or {}
    worker_names = {
        key: list((match.get(key) or {}).get("names") or [])
        for key in ("machineDeploymentClass", "machinePoolClass")
    }
    if not (
        match.get("infrastructureCluster")
        or match.get("controlPlane")
        or any(worker_names.values())
    ):
        report.add(path, "no selector enabled")
        return

    def ref_at(prefix: str) -> list[dict[str, Any]]:
        return [ref for field, ref in refs.items() if field.startswith(prefix)]

    if match.get("infrastructureCluster") and not any(
        _matches(selector, r) for r in ref_at("spec.infrastructure.")
    ):
        report.add(
            f"{path}.matchResources.infrastructureCluster",
            "selector is enabled but does not match the infrastructure ref",
        )
    if match.get("controlPlane") and not any(
        _matches(selector, r) for r in ref_at("spec.controlPlane.")
    ):
        report.add(
            f"{path}.matchResources.controlPlane",
            "selector is enabled but matches neither the controlPlane ref nor the "
            "controlPlane machineInfrastructure ref",
        )
    workers = spec.get("workers") or {}
    for key, collection, label in (
        ("machineDeploymentClass", "machineDeployments", "MachineDeployment"),
        ("machinePoolClass", "machinePools", "MachinePool"),
    ):
        for i, raw in enumerate(worker_names[key]):
            field = f"{path}.matchResources.{key}.names[{i}]"
            pattern = str(raw)
            if "*" in pattern:
                if pattern.count("*") > 1:
                    report.add(field, 'selector can at most contain a single "*" rune')
                    break
                if not (pattern.startswith("*") or pattern.endswith("*")):
                    report.add(
                        field,
                        '"*" rune can only appear at the beginning, or ending of the selector',
                    )
                    break
                if not _QUALIFIED_NAME.match(pattern.replace("*", "a")):
                    report.add(
                        field, "selector does not comply with the Kubernetes naming standards"
                    )
                    break
            matched = any(
                _matches(selector, r)
                for j, worker in enumerate(workers.get(collection) or [])
                if _class_matches(pattern, str(worker.get("class", "")))
                for r in ref_at(f"spec.workers.{collection}[{j}].")
            )
            if not matched:
                report.add(
                    field,
                    "selector is enabled but matches neither the bootstrap ref nor the "
                    f"infrastructure ref of a {label} class",
                )
