"""Node images first: which class objects wait for which images (pure planning)."""

from __future__ import annotations

from typing import Any

import pytest

from csops.syncer.health import CURRENT, IN_PROGRESS, Health
from csops.syncer.nodeimages import is_node_image, plan
from csops.syncer.objects import ObjectId

V1, V2 = "openstack-birch-1-31-v1", "openstack-birch-1-31-v2"
IMAGE = ObjectId("openstack.k-orc.cloud", "Image", "cluster", "ubuntu-capi-image-v1.31.6")
PROVIDER = ObjectId(
    "infrastructure.clusterstack.x-k8s.io", "OpenStackClusterStackRelease", "cluster", V2
)


pytestmark = pytest.mark.unit


def obj(oid: ObjectId, *releases: str) -> tuple[ObjectId, dict[str, Any]]:
    annotations = {"csops.io/releases": ",".join(releases)} if releases else {}
    return oid, {"metadata": {"name": oid.name, "annotations": annotations}}


def cc(name: str) -> ObjectId:
    return ObjectId("cluster.x-k8s.io", "ClusterClass", "cluster", name)


def tmpl(name: str) -> ObjectId:
    return ObjectId(
        "infrastructure.cluster.x-k8s.io", "OpenStackMachineTemplate", "cluster", f"{name}-worker"
    )


def test_node_image_kinds() -> None:
    assert is_node_image(IMAGE) and is_node_image(PROVIDER)
    assert not is_node_image(
        ObjectId("clusterstack.x-k8s.io", "ClusterStackRelease", "cluster", V1)
    )
    assert not is_node_image(ObjectId("openstack.k-orc.cloud", "Network", "cluster", "n"))
    assert not is_node_image(cc(V1))


def test_classes_wait_for_every_image_of_their_release() -> None:
    objects = [
        obj(IMAGE, V1, V2),
        obj(PROVIDER, V2),
        obj(cc(V1), V1),
        obj(tmpl(V1), V1),
        obj(cc(V2), V2),
        obj(ObjectId("clusterstack.x-k8s.io", "ClusterStackRelease", "cluster", V2), V2),
        obj(ObjectId("", "ConfigMap", "cluster", f"{V2}-node-images"), V2),
    ]
    health = {IMAGE: Health(CURRENT), PROVIDER: Health(IN_PROGRESS, "importing")}
    gate = plan(objects, lambda oid: health[oid], live=lambda oid: False)
    assert gate.held == {cc(V2)}  # only class-stage objects of the waiting release
    assert gate.message(V1) == ""
    assert gate.message(V2) == (
        "waiting for node image OpenStackClusterStackRelease.infrastructure.clusterstack.x-k8s.io "
        f"cluster/{V2} (importing)"
    )


def test_a_shared_image_holds_every_release_that_uses_it() -> None:
    objects = [obj(IMAGE, V1, V2), obj(cc(V1), V1), obj(cc(V2), V2)]
    gate = plan(
        objects, lambda oid: Health(IN_PROGRESS, "not available yet"), live=lambda oid: False
    )
    assert gate.held == {cc(V1), cc(V2)}
    assert str(IMAGE) in gate.message(V1) and "not available yet" in gate.message(V1)


def test_objects_already_in_the_cluster_are_never_held() -> None:
    objects = [obj(IMAGE, V1), obj(cc(V1), V1), obj(tmpl(V1), V1)]
    gate = plan(objects, lambda oid: Health(IN_PROGRESS), live=lambda oid: oid == cc(V1))
    assert gate.held == {tmpl(V1)}
    assert gate.message(V1) == f"waiting for node image {IMAGE}"


def test_an_object_of_a_ready_release_too_is_applied() -> None:
    shared = tmpl("shared")
    objects = [obj(PROVIDER, V2), obj(shared, V1, V2)]
    gate = plan(objects, lambda oid: Health(IN_PROGRESS), live=lambda oid: False)
    assert gate.held == set() and V2 in gate.waiting and V1 not in gate.waiting
