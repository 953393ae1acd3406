"""CRDs generated from ``schemas/``: CSO's ClusterStack, ClusterStackRelease and ClusterAddon,
and csops's ClusterClassTable (the admission policy's parameter)."""

from __future__ import annotations

from typing import Any

from csops.renderer import schemas

RESOURCES = ("clusterstack", "clusterstackrelease", "clusteraddon-resource")
_DROP = {"$schema", "$id", "title", "x-kubernetes", "x-crd-omit"}
# A schema node lists in ``x-crd-omit`` the keywords csops validates but CSO's CRD does not
# have (the admission policy checks them instead), so csops's CRD accepts all CSO's does.
_OMIT = "x-crd-omit"


def _structural(node: Any, top: bool = False) -> Any:
    """Turn a JSON Schema into the structural OpenAPI subset a CRD accepts."""
    if isinstance(node, list):
        return [_structural(n) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    omit = set(node.get(_OMIT, ()))
    for key, value in node.items():
        if key in _DROP or key in omit or (key == "default" and top):
            continue
        if key == "const":
            out["enum"] = [value]
        elif key == "properties":
            out[key] = {k: _structural(v) for k, v in value.items()}
        elif key == "additionalProperties" and isinstance(value, bool):
            continue
        else:
            out[key] = _structural(value)
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    if "properties" in out and "additionalProperties" in out:
        del out["additionalProperties"]
    return out


def crd(name: str) -> dict[str, Any]:
    """The CustomResourceDefinition for a schema with an ``x-kubernetes`` block."""
    schema = schemas.load(name)
    kube = schema["x-kubernetes"]
    body = _structural(schema, top=True)
    body["properties"]["metadata"] = {"type": "object"}
    body["properties"].pop("apiVersion", None)
    body["properties"].pop("kind", None)
    body["properties"] = {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        **body["properties"],
    }
    body.pop("required", None)  # CSO's CRDs require no top-level field, not even spec
    columns = [{"name": n, "type": t, "jsonPath": p} for n, t, p in kube.get("printerColumns", [])]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kube['plural']}.{kube['group']}"},
        "spec": {
            "group": kube["group"],
            "names": {
                "kind": kube["kind"],
                "listKind": f"{kube['kind']}List",
                "plural": kube["plural"],
                "singular": kube["kind"].lower(),
                "shortNames": kube.get("shortNames", []),
                "categories": kube.get("categories", ["cluster-api"]),
            },
            "scope": kube.get("scope", "Namespaced"),
            "versions": [
                {
                    "name": kube["version"],
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": body},
                    **({"subresources": {"status": {}}} if kube.get("status", True) else {}),
                    "additionalPrinterColumns": columns,
                }
            ],
        },
    }


def all_crds() -> list[dict[str, Any]]:
    """The CRDs of CSO's API, which csops renders into every ``manifests/crds``."""
    return [crd(name) for name in RESOURCES]
