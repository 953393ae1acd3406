"""Cluster API on the test plane: real CRDs, real conversion and admission webhooks, real
controllers, each manager under its own user."""

from __future__ import annotations

import time
from typing import Any, cast

import pytest
from kubernetes import client
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from csops.controlplane.audit import AuditLog
from csops.controlplane.clusterapi import ClusterApi

GROUP = "cluster.x-k8s.io"
PROVIDER_CRDS = (
    "kubeadmcontrolplanes.controlplane.cluster.x-k8s.io",
    "kubeadmconfigtemplates.bootstrap.cluster.x-k8s.io",
    "dockermachinetemplates.infrastructure.cluster.x-k8s.io",
)

pytestmark = pytest.mark.integration


def _crd(api_client: ApiClient, name: str) -> dict[str, Any]:
    api = client.ApiextensionsV1Api(api_client)
    return cast(
        dict[str, Any],
        api_client.sanitize_for_serialization(api.read_custom_resource_definition(name)),
    )


def _cluster(name: str, api_version: str = "v1beta1", **topology: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{api_version}",
        "kind": "Cluster",
        "metadata": {"name": name},
        "spec": {"topology": topology},
    }


def test_real_crds_with_contract_labels_and_conversion(
    api_client: ApiClient, capi_crds: list[str], cluster_api: ClusterApi
) -> None:
    names = set(capi_crds)
    assert {
        "clusters.cluster.x-k8s.io",
        "clusterclasses.cluster.x-k8s.io",
        "machinedeployments.cluster.x-k8s.io",
        "extensionconfigs.runtime.cluster.x-k8s.io",
        "openstackclustertemplates.infrastructure.cluster.x-k8s.io",
        "openstackmachinetemplates.infrastructure.cluster.x-k8s.io",
        "images.openstack.k-orc.cloud",
        *PROVIDER_CRDS,
    } <= names
    clusters = _crd(api_client, "clusters.cluster.x-k8s.io")
    assert [v["name"] for v in clusters["spec"]["versions"] if v.get("storage")] == ["v1beta2"]
    conversion = clusters["spec"]["conversion"]
    assert conversion["strategy"] == "Webhook"
    url = conversion["webhook"]["clientConfig"]["url"]
    assert url == f"https://127.0.0.1:{cluster_api.ports['core'].webhook}/convert"
    for name in PROVIDER_CRDS:
        labels = _crd(api_client, name)["metadata"]["labels"]
        assert labels["cluster.x-k8s.io/v1beta2"] == "v1beta2", name
    capo = _crd(api_client, "openstackclustertemplates.infrastructure.cluster.x-k8s.io")
    assert capo["metadata"]["labels"]["cluster.x-k8s.io/v1beta1"] == "v1beta1"
    assert capo["spec"]["conversion"]["strategy"] == "None"
    webhooks = client.AdmissionregistrationV1Api(api_client)
    validating = {c.metadata.name for c in webhooks.list_validating_webhook_configuration().items}
    assert {"capi-core-validating", "capi-kubeadm-control-plane-validating"} <= validating


def test_v1beta1_class_is_served_as_v1beta2_classref(
    api_client: ApiClient, capi_crds: list[str], namespace: str
) -> None:
    custom = client.CustomObjectsApi(api_client)
    body = _cluster("c1", **{"class": "some-class", "version": "v1.29.4"})
    custom.create_namespaced_custom_object(GROUP, "v1beta1", namespace, "clusters", body)
    as_v1beta2 = cast(
        dict[str, Any],
        custom.get_namespaced_custom_object(GROUP, "v1beta2", namespace, "clusters", "c1"),
    )
    assert as_v1beta2["apiVersion"] == f"{GROUP}/v1beta2"
    assert as_v1beta2["spec"]["topology"]["classRef"] == {"name": "some-class"}
    back = cast(
        dict[str, Any],
        custom.get_namespaced_custom_object(GROUP, "v1beta1", namespace, "clusters", "c1"),
    )
    assert back["spec"]["topology"]["class"] == "some-class"


def test_admission_webhook_refuses_a_bad_cluster(
    api_client: ApiClient, capi_crds: list[str], namespace: str
) -> None:
    custom = client.CustomObjectsApi(api_client)
    body = _cluster("bad", "v1beta2", classRef={"name": "c"}, version="1")
    with pytest.raises(ApiException) as refused:
        custom.create_namespaced_custom_object(GROUP, "v1beta2", namespace, "clusters", body)
    assert refused.value.status == 422
    assert "version must be a valid semantic version" in str(refused.value.body)


def _finalizers(custom: client.CustomObjectsApi, namespace: str, name: str) -> list[str]:
    obj = cast(
        dict[str, Any],
        custom.get_namespaced_custom_object(GROUP, "v1beta2", namespace, "clusters", name),
    )
    return list(obj["metadata"].get("finalizers") or [])


def test_controllers_reconcile_as_their_own_user(
    api_client: ApiClient, cluster_api: ClusterApi, namespace: str, audit: AuditLog
) -> None:
    custom = client.CustomObjectsApi(api_client)
    # No topology: the webhook refuses any update of a Cluster whose ClusterClass is missing,
    # the finalizer CAPI core adds included.
    body = {
        "apiVersion": f"{GROUP}/v1beta2",
        "kind": "Cluster",
        "metadata": {"name": "plain"},
        "spec": {
            "infrastructureRef": {
                "apiGroup": "infrastructure.cluster.x-k8s.io",
                "kind": "DockerCluster",
                "name": "plain",
            }
        },
    }
    custom.create_namespaced_custom_object(GROUP, "v1beta2", namespace, "clusters", body)
    deadline = time.monotonic() + 60
    while "cluster.cluster.x-k8s.io" not in _finalizers(custom, namespace, "plain"):
        assert time.monotonic() < deadline, "CAPI core never reconciled the Cluster"
        time.sleep(0.2)
    writers = {
        e.user
        for e in audit.requests(resource="clusters", namespace=namespace, name="plain")
        if e.is_write
    }
    assert cluster_api.user("core") in writers
    custom.delete_namespaced_custom_object(GROUP, "v1beta2", namespace, "clusters", "plain")
