"""ClusterClasses Cluster API refuses: one mistake each, made to a good rendered class.

Each case names the field ``csops validate`` must report and a phrase of the refusal the real
API server (with CAPI's webhooks) answers for the same object.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
GOOD_CLASS = (
    REPO_ROOT
    / "stacks/rendered/manifests/cluster/clusterclass.cluster.x-k8s.io/docker-alder-1-29-v1.yaml"
)


@dataclass(frozen=True)
class Case:
    id: str
    mutate: Callable[[dict[str, Any]], None]
    field: str  # the field csops names (v1beta1 spelling)
    server: str  # a phrase of the API server's refusal


def good_class() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(GOOD_CLASS.read_text())
    return loaded


def bad_class(case: Case) -> dict[str, Any]:
    obj = copy.deepcopy(good_class())
    case.mutate(obj["spec"])
    return obj


def _variable(spec: dict[str, Any], name: str) -> dict[str, Any]:
    return next(v for v in spec["variables"] if v["name"] == name)


def _patch(spec: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in spec["patches"] if p["name"] == name)


def _json_patch(spec: dict[str, Any], name: str) -> dict[str, Any]:
    patch: dict[str, Any] = _patch(spec, name)["definitions"][0]["jsonPatches"][0]
    return patch


def _set(path: list[str | int], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(spec: dict[str, Any]) -> None:
        target: Any = spec
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _schema(name: str, **changes: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(spec: dict[str, Any]) -> None:
        _variable(spec, name)["schema"]["openAPIV3Schema"].update(changes)

    return mutate


def _drop_items(spec: dict[str, Any]) -> None:
    del _variable(spec, "certSANs")["schema"]["openAPIV3Schema"]["items"]


def _duplicate_variable(spec: dict[str, Any]) -> None:
    spec["variables"].append(copy.deepcopy(spec["variables"][0]))


def _rename_variable(spec: dict[str, Any]) -> None:
    _variable(spec, "workerNodeLabels")["name"] = "worker.nodeLabels"
    _json_patch(spec, "workerNodeLabels")["valueFrom"]["variable"] = "worker"
    spec["variables"].append(
        {"name": "worker", "required": False, "schema": {"openAPIV3Schema": {"type": "string"}}}
    )
    _patch(spec, "workerNodeLabels")["enabledIf"] = "true"


def _patch_field(name: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(spec: dict[str, Any]) -> None:
        _json_patch(spec, name)[key] = value

    return mutate


def _value_from(name: str, **value_from: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(spec: dict[str, Any]) -> None:
        _json_patch(spec, name)["valueFrom"] = value_from

    return mutate


def _selector(name: str, **changes: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(spec: dict[str, Any]) -> None:
        _patch(spec, name)["definitions"][0]["selector"].update(changes)

    return mutate


def _duplicate_patch_name(spec: dict[str, Any]) -> None:
    _patch(spec, "workerImage")["name"] = "controlPlaneImage"


def _enabled_if(text: str) -> Callable[[dict[str, Any]], None]:
    def mutate(spec: dict[str, Any]) -> None:
        _patch(spec, "imageRepository")["enabledIf"] = text

    return mutate


def _duplicate_md_class(spec: dict[str, Any]) -> None:
    machine_deployments = spec["workers"]["machineDeployments"]
    machine_deployments.append(copy.deepcopy(machine_deployments[0]))


INFRA = ["infrastructure", "ref"]
MD = ["workers", "machineDeployments", 0, "template", "infrastructure", "ref"]

CASES = [
    Case(
        "template-kind",
        _set([*INFRA, "kind"], "DockerCluster"),
        "spec.infrastructure.ref.kind",
        "template kind must be of form",
    ),
    Case(
        "template-api-version",
        _set([*MD, "apiVersion"], "infrastructure.cluster.x-k8s.io/v1beta1/extra"),
        "spec.workers.machineDeployments[0].template.infrastructure.ref.apiVersion",
        "apiVersion",
    ),
    Case(
        "machine-deployment-class-twice",
        _duplicate_md_class,
        "spec.workers.machineDeployments[1].class",
        "default-worker",
    ),
    Case(
        "variable-twice",
        _duplicate_variable,
        "spec.variables[imageRepository].name",
        "imageRepository",
    ),
    Case(
        "variable-name-with-dot",
        _rename_variable,
        "spec.variables[worker.nodeLabels].name",
        'variable name cannot contain "."',
    ),
    Case(
        "variable-default-wrong-type",
        _schema("imageRepository", default=5),
        "spec.variables[imageRepository].schema.openAPIV3Schema.default",
        "default",
    ),
    Case(
        "variable-example-wrong-type",
        _schema("certSANs", example="not-a-list"),
        "spec.variables[certSANs].schema.openAPIV3Schema.example",
        "example",
    ),
    Case(
        "variable-enum-wrong-type",
        _schema("workerNodeLabels", enum=["", 3]),
        "spec.variables[workerNodeLabels].schema.openAPIV3Schema.enum[1]",
        "enum",
    ),
    Case(
        "variable-array-without-items",
        _drop_items,
        "spec.variables[certSANs].schema.openAPIV3Schema.items",
        "items",
    ),
    Case(
        "variable-default-unknown-field",
        _schema(
            "imageRepository",
            type="object",
            properties={"host": {"type": "string"}},
            default={"host": "registry.k8s.io", "port": 5000},
        ),
        "spec.variables[imageRepository].schema.openAPIV3Schema.default",
        "unknown field",
    ),
    Case(
        "variable-cel-rule-does-not-parse",
        _schema("imageRepository", **{"x-kubernetes-validations": [{"rule": "self.size() >"}]}),
        "spec.variables[imageRepository].schema.openAPIV3Schema.x-kubernetes-validations[0].rule",
        "compil",
    ),
    Case(
        "patch-name-twice",
        _duplicate_patch_name,
        "spec.patches[3].name",
        "patch names must be unique",
    ),
    Case(
        "patch-op",
        _patch_field("controlPlaneImage", "op", "move"),
        "spec.patches[2].definitions[0].jsonPatches[0].op",
        "move",
    ),
    Case(
        "patch-path-outside-spec",
        _patch_field("controlPlaneImage", "path", "/metadata/labels/x"),
        "spec.patches[2].definitions[0].jsonPatches[0].path",
        'jsonPatch path must start with "/spec"',
    ),
    Case(
        "patch-array-index",
        _patch_field("controlPlaneImage", "path", "/spec/template/spec/extraMounts/1"),
        "spec.patches[2].definitions[0].jsonPatches[0].path",
        "arrays can only be accessed",
    ),
    Case(
        "patch-value-and-value-from",
        _patch_field("imageRepository", "value", "registry.k8s.io"),
        "spec.patches[0].definitions[0].jsonPatches[0]",
        "can not define both value and valueFrom",
    ),
    Case(
        "patch-unknown-variable",
        _value_from("imageRepository", variable="registry"),
        "spec.patches[0].definitions[0].jsonPatches[0].valueFrom.variable",
        "variable with name registry cannot be found",
    ),
    Case(
        "patch-unknown-builtin",
        _value_from("imageRepository", variable="builtin.cluster.region"),
        "spec.patches[0].definitions[0].jsonPatches[0].valueFrom.variable",
        "not a defined builtin variable",
    ),
    Case(
        "patch-template-does-not-parse",
        _value_from("certSANs", template="- {{ .builtin.cluster.name"),
        "spec.patches[1].definitions[0].jsonPatches[0].valueFrom.template",
        "template can not be parsed",
    ),
    Case(
        "patch-template-helm-only-function",
        _value_from("certSANs", template="{{ toYaml .certSANs }}"),
        "spec.patches[1].definitions[0].jsonPatches[0].valueFrom.template",
        'function "toYaml" not defined',
    ),
    Case(
        "patch-enabled-if-does-not-parse",
        _enabled_if('{{ if ne .imageRepository "" }}true'),
        "spec.patches[0].enabledIf",
        "template can not be parsed",
    ),
    Case(
        "patch-enabled-if-not-hermetic",
        _enabled_if("{{ if now }}true{{ end }}"),
        "spec.patches[0].enabledIf",
        'function "now" not defined',
    ),
    Case(
        "selector-api-version",
        _selector("controlPlaneImage", apiVersion="infrastructure.cluster.x-k8s.io/v1beta2"),
        "spec.patches[2].definitions[0].selector.matchResources.controlPlane",
        "matches neither the controlPlane ref",
    ),
    Case(
        "selector-unknown-machine-deployment-class",
        _selector("workerImage", matchResources={"machineDeploymentClass": {"names": ["gpu"]}}),
        "spec.patches[3].definitions[0].selector.matchResources.machineDeploymentClass.names[0]",
        "matches neither the bootstrap ref nor the infrastructure ref",
    ),
    Case(
        "selector-nothing-enabled",
        _selector("workerImage", matchResources={}),
        "spec.patches[3].definitions[0].selector",
        "no selector enabled",
    ),
]
