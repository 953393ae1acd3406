"""Unit tests: Cluster API's shipped config turned into a loopback install (pure functions)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from csops.controlplane.clusterapi.manifests import (
    ManifestError,
    contract_labels,
    prepare_crd,
    webhook_configurations,
)

CA = b"-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n"
URL = "https://127.0.0.1:41234"

pytestmark = pytest.mark.unit


def crd(*versions: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "clusters.cluster.x-k8s.io", "labels": {"keep": "me"}},
        "spec": {"versions": [{"name": v, "served": True} for v in versions]},
    }


def test_contract_labels_come_from_every_pairs_entry() -> None:
    kustomization = {
        "labels": [
            {"pairs": {"cluster.x-k8s.io/v1beta1": "v1beta1"}},
            {"pairs": {"cluster.x-k8s.io/v1beta2": "v1beta2"}},
        ]
    }
    assert contract_labels(kustomization) == {
        "cluster.x-k8s.io/v1beta1": "v1beta1",
        "cluster.x-k8s.io/v1beta2": "v1beta2",
    }
    assert contract_labels(None) == {}
    assert contract_labels({"resources": ["a.yaml"]}) == {}


def test_multi_version_crd_converts_through_the_manager_url() -> None:
    original = crd("v1beta1", "v1beta2")
    out = prepare_crd(
        original, labels={"cluster.x-k8s.io/v1beta2": "v1beta2"}, webhook_url=URL, ca_bundle=CA
    )
    assert out["metadata"]["labels"] == {"keep": "me", "cluster.x-k8s.io/v1beta2": "v1beta2"}
    webhook = out["spec"]["conversion"]["webhook"]
    assert out["spec"]["conversion"]["strategy"] == "Webhook"
    assert webhook["clientConfig"] == {
        "url": URL + "/convert",
        "caBundle": base64.b64encode(CA).decode(),
    }
    assert webhook["conversionReviewVersions"] == ["v1"]
    assert "conversion" not in original["spec"], "the input is not modified"


def test_single_version_crd_needs_no_conversion() -> None:
    out = prepare_crd(crd("v1beta1"), labels={}, webhook_url=None, ca_bundle=CA)
    assert out["spec"]["conversion"] == {"strategy": "None"}


def test_multi_version_crd_without_a_manager_is_refused() -> None:
    with pytest.raises(ManifestError, match=r"clusters.cluster.x-k8s.io .* no manager"):
        prepare_crd(crd("v1alpha1", "v1beta1"), labels={}, webhook_url=None, ca_bundle=CA)


def test_webhook_configurations_call_the_manager_by_url() -> None:
    manifests = [
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "validating-webhook-configuration"},
            "webhooks": [
                {
                    "name": "validation.cluster.cluster.x-k8s.io",
                    "clientConfig": {
                        "service": {
                            "name": "webhook-service",
                            "namespace": "system",
                            "path": "/validate-cluster-x-k8s-io-v1beta2-cluster",
                        }
                    },
                    "failurePolicy": "Fail",
                }
            ],
        },
        None,
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": "mutating-webhook-configuration"},
            "webhooks": [],
        },
    ]
    out = webhook_configurations(manifests, provider="core", webhook_url=URL, ca_bundle=CA)
    assert [c["metadata"]["name"] for c in out] == ["capi-core-validating", "capi-core-mutating"]
    hook = out[0]["webhooks"][0]
    assert hook["clientConfig"] == {
        "url": URL + "/validate-cluster-x-k8s-io-v1beta2-cluster",
        "caBundle": base64.b64encode(CA).decode(),
    }
    assert hook["failurePolicy"] == "Fail"
    assert manifests[0]["webhooks"][0]["clientConfig"]["service"], "the input is not modified"


def test_webhook_manifest_of_another_kind_is_refused() -> None:
    with pytest.raises(ManifestError, match="unexpected Service"):
        webhook_configurations(
            [{"kind": "Service", "metadata": {"name": "x"}}],
            provider="docker",
            webhook_url=URL,
            ca_bundle=CA,
        )
