"""Provider integration as CSO does it: a release object per release, from a template in git.

A ClusterStack with ``noProvider: false`` names a ``…ClusterStackReleaseTemplate`` in
``spec.providerRef`` (OpenStack's CSPO: ``OpenStackClusterStackReleaseTemplate``). For every
release it offers, CSO creates an object of the template's kind without ``Template``, same
apiVersion, named after the release, in the ClusterStack's namespace, from the template's
``spec.template`` (its metadata's labels and annotations, then the ClusterStack's on top), and
points the ClusterStackRelease's ``spec.providerRef`` at it; the provider's controller makes
it ``status.ready`` once the release's node images are imported. csops renders the same
objects from a template kept in ``clusterstacks/``, which it renders too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from csops.renderer.errors import Problem

TEMPLATE_SUFFIX = "ClusterStackReleaseTemplate"


@dataclass(frozen=True)
class ProviderTemplate:
    """A provider's ClusterStackRelease template found in the repository."""

    namespace: str
    file: str
    object: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.object["metadata"]["name"])

    @property
    def api_version(self) -> str:
        return str(self.object["apiVersion"])

    @property
    def kind(self) -> str:
        return str(self.object["kind"])

    @property
    def release_kind(self) -> str:
        """The kind of the objects made from it: the template's kind without ``Template``."""
        return self.kind.removesuffix("Template")


def is_template(doc: Any) -> bool:
    """Whether a document in ``clusterstacks/`` is a provider template."""
    return isinstance(doc, dict) and str(doc.get("kind", "")).endswith(TEMPLATE_SUFFIX)


def load_template(doc: dict[str, Any], where: str, namespace: str) -> ProviderTemplate | Problem:
    """A template, placed in ``namespace`` unless it names one; or what is wrong with it."""
    meta = doc.get("metadata")
    if not isinstance(meta, dict) or not meta.get("name"):
        return Problem(where, "has no metadata.name", field="metadata.name")
    if "/" not in str(doc.get("apiVersion", "")):
        return Problem(
            where,
            "needs the apiVersion of its provider (group/version)",
            field="apiVersion",
            hint="e.g. infrastructure.clusterstack.x-k8s.io/v1alpha1",
        )
    template = (doc.get("spec") or {}).get("template")
    if not isinstance(template, dict):
        return Problem(
            where,
            "has no spec.template: CSO builds each provider release object from it",
            field="spec.template",
        )
    obj = {**doc, "metadata": {**meta, "namespace": meta.get("namespace") or namespace}}
    return ProviderTemplate(str(obj["metadata"]["namespace"]), where, obj)


def _group(api_version: str) -> str:
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def resolve(
    reference: dict[str, Any], namespace: str, templates: list[ProviderTemplate]
) -> ProviderTemplate | None:
    """The template ``reference`` names, looked up in ``namespace`` as CSO does."""
    for template in templates:
        if (
            template.namespace == namespace
            and template.name == reference.get("name")
            and template.kind == reference.get("kind")
            and (
                not reference.get("apiVersion")
                or _group(template.api_version) == _group(str(reference["apiVersion"]))
            )
        ):
            return template
    return None


def release_object(
    template: ProviderTemplate, release: str, cluster_stack: dict[str, Any]
) -> dict[str, Any]:
    """The provider's release object for one release, as CSO generates it."""
    body = dict(template.object["spec"]["template"])
    meta = dict(body.get("metadata") or {})
    stack_meta = cluster_stack.get("metadata") or {}
    labels = {**(meta.get("labels") or {}), **(stack_meta.get("labels") or {})}
    annotations = {**(meta.get("annotations") or {}), **(stack_meta.get("annotations") or {})}
    meta = {"name": release, "namespace": stack_meta["namespace"]}
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    return {
        **body,
        "apiVersion": template.api_version,
        "kind": template.release_kind,
        "metadata": meta,
    }


def reference_to(obj: dict[str, Any]) -> dict[str, str]:
    """An ObjectReference to a rendered object (a ClusterStackRelease's ``spec.providerRef``)."""
    meta = obj["metadata"]
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": meta["name"],
        "namespace": meta["namespace"],
    }
