"""Turn Cluster API's shipped config into what a loopback plane installs (pure functions).

Upstream deploys its CRDs and webhook configurations through kustomize, cert-manager and a
Service; here the managers run as local processes, so:

- every CRD gets its provider's contract labels (``labels[].pairs`` of the provider's
  ``config/crd/kustomization.yaml``, e.g. ``cluster.x-k8s.io/v1beta2: v1beta2``), which the
  topology controller reads to pick a template's API version;
- a CRD serving several versions converts through its manager's ``/convert`` at
  ``https://127.0.0.1:<webhook port>`` with the plane's CA as ``caBundle``;
- ``config/webhook/manifests.yaml`` becomes URL-based webhook configurations, named per
  provider so the four providers' configurations do not replace each other.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterable
from typing import Any

WEBHOOK_KINDS = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
CONVERSION_PATH = "/convert"


class ManifestError(ValueError):
    """Upstream config this module cannot turn into a loopback install."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def contract_labels(kustomization: dict[str, Any] | None) -> dict[str, str]:
    """The ``labels[].pairs`` a provider's CRD kustomization adds to every CRD."""
    labels: dict[str, str] = {}
    for entry in (kustomization or {}).get("labels") or []:
        for key, value in (entry.get("pairs") or {}).items():
            labels[str(key)] = str(value)
    return labels


def served_versions(crd: dict[str, Any]) -> list[str]:
    return [str(v["name"]) for v in crd["spec"]["versions"] if v.get("served", True)]


def prepare_crd(
    crd: dict[str, Any],
    *,
    labels: dict[str, str],
    webhook_url: str | None,
    ca_bundle: bytes,
) -> dict[str, Any]:
    """``crd`` with ``labels`` and, when it serves several versions, a URL conversion webhook.

    ``webhook_url`` is the base URL of the manager that serves the CRD's conversions
    (``None`` for a provider without a manager, whose CRDs must then serve one version).
    """
    out = copy.deepcopy(crd)
    metadata = out["metadata"]
    metadata["labels"] = {**(metadata.get("labels") or {}), **labels}
    if len(out["spec"]["versions"]) < 2:
        out["spec"]["conversion"] = {"strategy": "None"}
        return out
    if webhook_url is None:
        raise ManifestError(
            f"CRD {metadata['name']} has versions {served_versions(out)} but no manager "
            "serves its conversions"
        )
    out["spec"]["conversion"] = {
        "strategy": "Webhook",
        "webhook": {
            "conversionReviewVersions": ["v1"],
            "clientConfig": {"url": webhook_url + CONVERSION_PATH, "caBundle": _b64(ca_bundle)},
        },
    }
    return out


def webhook_configurations(
    documents: Iterable[dict[str, Any] | None],
    *,
    provider: str,
    webhook_url: str,
    ca_bundle: bytes,
) -> list[dict[str, Any]]:
    """The provider's admission webhook configurations, calling ``webhook_url`` + path."""
    out: list[dict[str, Any]] = []
    for document in documents:
        if not document:
            continue
        kind = document.get("kind")
        if kind not in WEBHOOK_KINDS:
            raise ManifestError(f"{provider}: unexpected {kind} in the webhook manifests")
        config = copy.deepcopy(document)
        role = "mutating" if kind.startswith("Mutating") else "validating"
        config["metadata"] = {
            "name": f"capi-{provider}-{role}",
            "labels": {"csops.dev/cluster-api-provider": provider},
        }
        for webhook in config.get("webhooks") or []:
            service = (webhook.get("clientConfig") or {}).get("service") or {}
            path = service.get("path")
            if not path:
                raise ManifestError(f"{provider}: webhook {webhook.get('name')} names no path")
            webhook["clientConfig"] = {"url": webhook_url + path, "caBundle": _b64(ca_bundle)}
        out.append(config)
    return out
