"""Node images first, on the real API server: a release's ClusterClass and templates are applied
only once its ORC Image reports ``Available`` (written here as ORC would write it)."""

from __future__ import annotations

from typing import Any

import pytest

from csops.syncer.controller import sync_once
from csops.syncer.diff import cluster_diff
from csops.syncer.kube import Kube
from csops.syncer.settings import Settings
from tests.syncer.conftest import StacksRepo

pytestmark = pytest.mark.integration

CSO = "clusterstack.x-k8s.io/v1alpha1"
BIRCH, ALDER = "openstack-birch-1-31-v1", "docker-alder-1-29-v1"
IMAGE = "ubuntu-capi-image-v1.31.6"


def get(kube: Kube, api_version: str, kind: str, ns: str, name: str) -> dict[str, Any] | None:
    return kube.get_or_none(kube.resource(api_version, kind), ns, name)


def conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in obj["status"]["conditions"]}


def report_available(api_client: Any, ns: str) -> None:
    """What ORC does once the image is uploaded to Glance."""
    from kubernetes.client import CustomObjectsApi

    now = "2026-01-01T00:00:00Z"
    status = {
        "conditions": [
            {
                "type": "Available",
                "status": "True",
                "reason": "Success",
                "message": "",
                "lastTransitionTime": now,
            },
            {
                "type": "Progressing",
                "status": "False",
                "reason": "Success",
                "message": "",
                "lastTransitionTime": now,
            },
        ],
        "id": "0d9a1d9c-7a3e-4b5c-9f9e-1c2d3e4f5a6b",
    }
    CustomObjectsApi(api_client).patch_namespaced_custom_object_status(
        "openstack.k-orc.cloud",
        "v1alpha1",
        ns,
        "images",
        IMAGE,
        {"status": status},
        field_manager="orc",
        _content_type="application/merge-patch+json",
    )


def test_classes_wait_for_their_node_images(
    kube: Kube, stacks_repo: StacksRepo, sync_config: Settings, api_client: Any
) -> None:
    ns = stacks_repo.namespace
    first = sync_once(sync_config, kube)
    assert first.ok, first.state()  # the image is not waited for: the pass ends at once
    assert get(kube, "openstack.k-orc.cloud/v1alpha1", "Image", ns, IMAGE) is not None
    assert get(kube, "cluster.x-k8s.io/v1beta1", "ClusterClass", ns, BIRCH) is None
    held = {oid.name for oid in first.held}
    assert {BIRCH, f"{BIRCH}-control-plane", f"{BIRCH}-default-worker"} <= held
    assert get(kube, "cluster.x-k8s.io/v1beta1", "ClusterClass", ns, ALDER) is not None
    release = get(kube, CSO, "ClusterStackRelease", ns, BIRCH)
    assert release is not None and release["status"]["ready"] is False
    waiting = conditions(release)["NodeImagesReady"]
    assert waiting["status"] == "False"
    assert waiting["message"].startswith(
        f"waiting for node image Image.openstack.k-orc.cloud {ns}/{IMAGE}"
    )
    stack = get(kube, CSO, "ClusterStack", ns, "openstack-birch-1-31")
    assert stack is not None and stack["status"]["usableVersions"] == ""
    assert stack["status"]["summary"][0]["phase"] == "provider-specific work"

    diff = cluster_diff(stacks_repo.manifests, kube, name=sync_config.name, inventory_namespace=ns)
    assert not diff.added and set(diff.waiting) == set(first.held)
    report_available(api_client, ns)
    diff = cluster_diff(stacks_repo.manifests, kube, name=sync_config.name, inventory_namespace=ns)
    assert not diff.waiting and {d.id for d in diff.added} == set(first.held)
    second = sync_once(sync_config, kube)
    assert second.ok and not second.held, second.state()
    assert get(kube, "cluster.x-k8s.io/v1beta1", "ClusterClass", ns, BIRCH) is not None
    release = get(kube, CSO, "ClusterStackRelease", ns, BIRCH)
    assert release is not None and release["status"]["ready"] is True
    assert conditions(release)["NodeImagesReady"]["status"] == "True"
    stack = get(kube, CSO, "ClusterStack", ns, "openstack-birch-1-31")
    assert stack is not None and stack["status"]["usableVersions"] == "v1"
    assert stack["status"]["latestRelease"] == f"{BIRCH} | v1.31.6"
