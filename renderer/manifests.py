"""Kubernetes objects of the rendered tree: identity, namespaces, file paths, annotations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from csops.renderer import documents, kubenames
from csops.renderer.errors import Problem, ProblemList

if TYPE_CHECKING:
    from csops.renderer.helm import RenderedFile

RELEASES_ANNOTATION = "csops.io/releases"
PRUNE_ANNOTATION = "csops.io/prune"
INSTANCE_LABEL = "clusterstack.x-k8s.io/instance"
CRD_DIR = "crds"
CLUSTER_SCOPED_DIR = "cluster-scoped"

_CLUSTER_SCOPED = {
    ("", "Namespace"),
    ("", "Node"),
    ("", "PersistentVolume"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("storage.k8s.io", "StorageClass"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "VolumeAttachment"),
    ("node.k8s.io", "RuntimeClass"),
    ("networking.k8s.io", "IngressClass"),
    ("apiregistration.k8s.io", "APIService"),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
}


@dataclass(frozen=True, order=True)
class Identity:
    """What makes an object unique in a cluster."""

    group: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        return f"{kind} {self.namespace}/{self.name}" if self.namespace else f"{kind} {self.name}"


def group_of(obj: dict[str, Any]) -> str:
    """The API group of an object (``""`` for the core group)."""
    api = str(obj.get("apiVersion", ""))
    return api.split("/", maxsplit=1)[0] if "/" in api else ""


def identity(obj: dict[str, Any]) -> Identity:
    """The identity of an object."""
    meta = obj.get("metadata") or {}
    return Identity(
        group_of(obj),
        str(obj.get("kind", "")),
        str(meta.get("namespace", "")),
        str(meta.get("name", "")),
    )


def scoped_kinds(objects: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """Known cluster-scoped kinds plus those of cluster-scoped CRDs among ``objects``."""
    kinds = set(_CLUSTER_SCOPED)
    for obj in objects:
        if obj.get("kind") == "CustomResourceDefinition":
            spec = obj.get("spec") or {}
            if spec.get("scope") == "Cluster":
                kinds.add((str(spec.get("group", "")), str((spec.get("names") or {}).get("kind"))))
    return kinds


def parse_text(text: str, where: str, problems: ProblemList) -> list[dict[str, Any]]:
    """The objects of one rendered YAML text; what is not a Kubernetes object Kubernetes would
    take (kind, apiVersion, namespace and name checked, see :mod:`kubenames`) is a problem."""
    objects: list[dict[str, Any]] = []
    for doc in documents.loads_all(text, where):
        if not isinstance(doc, dict) or not doc.get("kind") or not doc.get("apiVersion"):
            problems.add(
                where,
                "renders a document that is not a Kubernetes object",
                hint="every rendered document needs apiVersion and kind",
            )
            continue
        meta = doc.get("metadata")
        if not isinstance(meta, dict) or not meta.get("name"):
            problems.add(
                where, f"renders a {doc['kind']} without metadata.name", field="metadata.name"
            )
            continue
        refused = kubenames.problems(doc)
        for field, message in refused:
            problems.add(
                where,
                f"renders {message}",
                field=field,
                hint="Kubernetes refuses it, and the rendered tree names each file after it",
            )
        if not refused:
            objects.append(doc)
    return objects


def parse_files(
    files: list[RenderedFile], display: str, problems: ProblemList
) -> list[dict[str, Any]]:
    """Split rendered templates into objects; non-objects are problems naming the template."""
    objects: list[dict[str, Any]] = []
    for file in files:
        where = f"{display}/{file.path.split('/', 1)[-1]}"
        objects += parse_text(file.text, where, problems)
    return objects


def place(
    objects: list[dict[str, Any]], namespace: str, scoped: set[tuple[str, str]]
) -> list[Problem]:
    """Put namespaced objects into ``namespace`` as CSO does; report objects that moved."""
    moved: list[Problem] = []
    for obj in objects:
        meta = obj.setdefault("metadata", {})
        if (group_of(obj), obj["kind"]) in scoped:
            meta.pop("namespace", None)
            continue
        declared = meta.get("namespace")
        if declared and declared != namespace:
            moved.append(
                Problem(
                    str(identity(obj)),
                    f"declares namespace {declared!r}; it is "
                    f"applied to {namespace!r} like the Cluster Stack Operator does",
                )
            )
        meta["namespace"] = namespace
    return moved


def path_of(obj: dict[str, Any]) -> str:
    """Stable file path of an object in ``manifests/``: one object per file."""
    ident = identity(obj)
    if ident.kind == "CustomResourceDefinition":
        return f"{CRD_DIR}/{ident.name}.yaml"
    kind = f"{ident.kind.lower()}.{ident.group}" if ident.group else ident.kind.lower()
    folder = ident.namespace or CLUSTER_SCOPED_DIR
    return f"{folder}/{kind}/{ident.name}.yaml"


def label(obj: dict[str, Any], key: str, value: str) -> None:
    """Set one label."""
    obj.setdefault("metadata", {}).setdefault("labels", {})[key] = value
