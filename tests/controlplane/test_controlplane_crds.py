"""The bundled Cluster API / ORC CRDs install, become Established and serve custom resources."""

from __future__ import annotations

from typing import Any, cast

import pytest
from kubernetes import client
from kubernetes.client import ApiClient

pytestmark = pytest.mark.integration

EXPECTED = {
    "clusterclasses.cluster.x-k8s.io",
    "clusters.cluster.x-k8s.io",
    "dockerclustertemplates.infrastructure.cluster.x-k8s.io",
    "dockermachinetemplates.infrastructure.cluster.x-k8s.io",
    "dockerclusters.infrastructure.cluster.x-k8s.io",
    "openstackclustertemplates.infrastructure.cluster.x-k8s.io",
    "openstackmachinetemplates.infrastructure.cluster.x-k8s.io",
    "openstackclusters.infrastructure.cluster.x-k8s.io",
    "kubeadmcontrolplanetemplates.controlplane.cluster.x-k8s.io",
    "kubeadmcontrolplanes.controlplane.cluster.x-k8s.io",
    "kubeadmconfigtemplates.bootstrap.cluster.x-k8s.io",
    "images.openstack.k-orc.cloud",
}


def test_all_crds_installed(capi_crds: list[str]) -> None:
    assert set(capi_crds) == EXPECTED


def test_cluster_class_and_cluster_round_trip(
    api_client: ApiClient, capi_crds: list[str], namespace: str
) -> None:
    custom = client.CustomObjectsApi(api_client)
    group = "cluster.x-k8s.io"
    custom.create_namespaced_custom_object(
        group,
        "v1beta1",
        namespace,
        "clusterclasses",
        {
            "apiVersion": f"{group}/v1beta1",
            "kind": "ClusterClass",
            "metadata": {"name": "docker-ferrol-1-27-v1"},
            "spec": {"infrastructure": {"ref": {"kind": "DockerClusterTemplate", "name": "x"}}},
        },
    )
    custom.create_namespaced_custom_object(
        group,
        "v1beta2",
        namespace,
        "clusters",
        {
            "apiVersion": f"{group}/v1beta2",
            "kind": "Cluster",
            "metadata": {"name": "c1"},
            "spec": {"topology": {"classRef": {"name": "docker-ferrol-1-27-v1"}, "version": "1"}},
        },
    )
    # conversion strategy None: the same object is served under both versions
    as_v1beta1 = cast(
        dict[str, Any],
        custom.get_namespaced_custom_object(group, "v1beta1", namespace, "clusters", "c1"),
    )
    assert as_v1beta1["apiVersion"] == f"{group}/v1beta1"
    assert as_v1beta1["spec"]["topology"]["classRef"]["name"] == "docker-ferrol-1-27-v1"
    patched = cast(
        dict[str, Any],
        custom.patch_namespaced_custom_object_status(
            group, "v1beta1", namespace, "clusters", "c1", {"status": {"phase": "Provisioned"}}
        ),
    )
    assert patched["status"]["phase"] == "Provisioned"


def test_orc_image(api_client: ApiClient, capi_crds: list[str], namespace: str) -> None:
    custom = client.CustomObjectsApi(api_client)
    created: Any = custom.create_namespaced_custom_object(
        "openstack.k-orc.cloud",
        "v1alpha1",
        namespace,
        "images",
        {
            "apiVersion": "openstack.k-orc.cloud/v1alpha1",
            "kind": "Image",
            "metadata": {"name": "ubuntu-capi-image-v1-27-4"},
            "spec": {"resource": {"content": {"diskFormat": "qcow2"}}},
        },
    )
    assert created["spec"]["resource"]["content"]["diskFormat"] == "qcow2"
