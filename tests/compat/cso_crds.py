"""The Cluster Stack Operator's CRDs (``clusterstack.x-k8s.io/v1alpha1``), written down as facts.

Not a copy of CSO's files: the schema facts (types, defaults, enums, patterns, required
fields, map types) and the printer columns of CSO's ClusterStack, ClusterStackRelease and
ClusterAddon CRDs, as research/scs.md §5 and CSO's API types state them, built into CRDs
here. Tests install them under :data:`GROUP` next to csops's own to compare what each accepts.
"""

from __future__ import annotations

from typing import Any

GROUP = "cso.compat.csops.test"
VERSION = "v1alpha1"


def _str(**rules: Any) -> dict[str, Any]:
    return {"type": "string", **rules}


def _bool(default: bool | None = None) -> dict[str, Any]:
    return {"type": "boolean", **({"default": default} if default is not None else {})}


def _obj(properties: dict[str, Any], *required: str, **rules: Any) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "object", "properties": properties, **rules}
    if required:
        node["required"] = list(required)
    return node


def _list(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


# a core ObjectReference, kept whole on apply (map type atomic)
_REFERENCE = _obj(
    {
        k: _str()
        for k in ("apiVersion", "kind", "name", "namespace", "uid", "resourceVersion", "fieldPath")
    },
    **{"x-kubernetes-map-type": "atomic"},
)
# Cluster API v1beta1 conditions
_CONDITIONS = _list(
    _obj(
        {
            "type": _str(),
            "status": _str(),
            "severity": _str(),
            "reason": _str(),
            "message": _str(),
            "lastTransitionTime": _str(format="date-time"),
        },
        "lastTransitionTime",
        "status",
        "type",
    )
)
_RESOURCES = _list(
    _obj({k: _str() for k in ("group", "version", "kind", "namespace", "name", "status", "error")})
)
_READY_COLUMNS = [
    ("Reason", "string", ".status.conditions[?(@.type=='Ready')].reason"),
    ("Message", "string", ".status.conditions[?(@.type=='Ready')].message"),
]
_AGE = ("Age", "date", ".metadata.creationTimestamp")

CLUSTER_STACK: dict[str, Any] = {
    "kind": "ClusterStack",
    "plural": "clusterstacks",
    "shortNames": ["csk"],
    "columns": [
        ("Provider", "string", ".spec.provider"),
        ("ClusterStack", "string", ".spec.name"),
        ("K8s", "string", ".spec.kubernetesVersion"),
        ("Channel", "string", ".spec.channel"),
        ("Autosubscribe", "string", ".spec.autoSubscribe"),
        ("Usable", "string", ".status.usableVersions"),
        ("Latest", "string", ".status.latestRelease"),
        _AGE,
        *_READY_COLUMNS,
    ],
    "spec": _obj(
        {
            "provider": _str(minLength=1),
            "name": _str(minLength=1),
            "kubernetesVersion": _str(pattern=r"^\d\.\d+$"),
            "channel": _str(enum=["stable", "custom"], default="stable"),
            "versions": _list(_str()),
            "autoSubscribe": _bool(True),
            "noProvider": _bool(False),
            "providerRef": _REFERENCE,
        },
        "kubernetesVersion",
        "name",
        "provider",
    ),
    "status": _obj(
        {
            "latestRelease": _str(),
            "usableVersions": _str(),
            "summary": _list(
                _obj(
                    {"name": _str(), "ready": _bool(), "phase": _str(), "message": _str()},
                    "name",
                    "phase",
                    "ready",
                )
            ),
            "conditions": _CONDITIONS,
        }
    ),
}

CLUSTER_STACK_RELEASE: dict[str, Any] = {
    "kind": "ClusterStackRelease",
    "plural": "clusterstackreleases",
    "shortNames": ["cskr"],
    "columns": [
        ("K8s Version", "string", ".status.kubernetesVersion"),
        ("Ready", "boolean", ".status.ready"),
        _AGE,
        *_READY_COLUMNS,
    ],
    "spec": _obj({"providerRef": _REFERENCE}),
    "status": _obj(
        {
            "resources": _RESOURCES,
            "kubernetesVersion": _str(),
            "ready": _bool(False),
            "conditions": _CONDITIONS,
        }
    ),
}

CLUSTER_ADDON: dict[str, Any] = {
    "kind": "ClusterAddon",
    "plural": "clusteraddons",
    "shortNames": ["caddon"],
    "columns": [
        ("Cluster", "string", '.metadata.ownerReferences[?(@.kind=="Cluster")].name'),
        ("Hook", "string", ".spec.hook"),
        ("Ready", "boolean", ".status.ready"),
        _AGE,
        *_READY_COLUMNS,
    ],
    "spec": _obj(
        {
            "clusterStack": _str(),
            "version": _str(),
            "hook": _str(),
            "clusterRef": _REFERENCE,
        },
        "clusterRef",
    ),
    "status": _obj(
        {
            "resources": _RESOURCES,
            "stages": _list(_obj({"name": _str(), "action": _str(), "phase": _str()})),
            "ready": _bool(False),
            "conditions": _CONDITIONS,
        }
    ),
}

ALL = (CLUSTER_STACK, CLUSTER_STACK_RELEASE, CLUSTER_ADDON)


def crd(facts: dict[str, Any], group: str = GROUP) -> dict[str, Any]:
    """A CustomResourceDefinition with CSO's schema and columns, in ``group``."""
    schema = _obj(
        {
            "apiVersion": _str(),
            "kind": _str(),
            "metadata": {"type": "object"},
            "spec": facts["spec"],
            "status": facts["status"],
        }
    )
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{facts['plural']}.{group}"},
        "spec": {
            "group": group,
            "names": {
                "kind": facts["kind"],
                "listKind": f"{facts['kind']}List",
                "plural": facts["plural"],
                "singular": facts["kind"].lower(),
                "shortNames": [f"{n}-cso" for n in facts["shortNames"]],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": n, "type": t, "jsonPath": p} for n, t, p in facts["columns"]
                    ],
                }
            ],
        },
    }
