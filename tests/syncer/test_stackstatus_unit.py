"""ClusterStack / ClusterStackRelease status of a pass: node images first, CSO's formats."""

from __future__ import annotations

from typing import Any

import pytest

from csops.syncer.changeset import Action, Change
from csops.syncer.desired import DesiredObject
from csops.syncer.health import CURRENT, IN_PROGRESS, Health
from csops.syncer.nodeimages import plan
from csops.syncer.objects import ObjectId
from csops.syncer.stackstatus import PassReport, compute

pytestmark = pytest.mark.unit

NS = "cluster"
V1, V2 = "openstack-birch-1-31-v1", "openstack-birch-1-31-v2"
IMAGE = ObjectId("openstack.k-orc.cloud", "Image", NS, "ubuntu-capi-image-v1.31.7")


def desired(group: str, kind: str, name: str, *releases: str, **meta: Any) -> DesiredObject:
    annotations = {"csops.io/releases": ",".join(releases)} if releases else {}
    body = {
        "apiVersion": f"{group}/v1" if group else "v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": NS, "annotations": annotations, **meta},
    }
    return DesiredObject(ObjectId(group, kind, NS, name), body, "test")


def objects() -> list[DesiredObject]:
    label = {"labels": {"clusterstack.x-k8s.io/clusterstack": "openstack-birch-1-31"}}
    return [
        desired("clusterstack.x-k8s.io", "ClusterStack", "openstack-birch-1-31"),
        desired("clusterstack.x-k8s.io", "ClusterStackRelease", V1, **label),
        desired("clusterstack.x-k8s.io", "ClusterStackRelease", V2, **label),
        desired("cluster.x-k8s.io", "ClusterClass", V1, V1),
        desired("cluster.x-k8s.io", "ClusterClass", V2, V2),
        desired("openstack.k-orc.cloud", "Image", IMAGE.name, V2),
    ]


def statuses(objs: list[DesiredObject], waiting: bool) -> dict[str, dict[str, Any]]:
    def image(oid: ObjectId) -> Health:
        return Health(IN_PROGRESS, "uploading") if waiting else Health(CURRENT)

    gate = plan([(o.id, o.body) for o in objs], image, live=lambda oid: False)
    changes = {
        o.id: Change(o.id, Action.CREATED, {}, None, o.api_version)
        for o in objs
        if o.id not in gate.held
    }
    report = PassReport("main@sha1:abc", changes, {}, "ok", {V1: "v1.31.6", V2: "v1.31.7"}, gate)
    return {f"{u.target.kind}/{u.target.name}": u.status for u in compute(objs, report, {})}


def conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status["conditions"]}


def test_a_release_waiting_for_its_images_is_not_usable() -> None:
    result = statuses(objects(), waiting=True)
    release = result[f"ClusterStackRelease/{V2}"]
    assert release["ready"] is False
    conds = conditions(release)
    message = f"waiting for node image Image.openstack.k-orc.cloud {NS}/{IMAGE.name} (uploading)"
    assert conds["NodeImagesReady"]["status"] == "False"
    assert conds["NodeImagesReady"]["message"] == message
    assert conds["HelmChartApplied"]["reason"] == "ObjectsApplyingOngoing"
    assert conds["Ready"]["reason"] == "ProcessOngoing"
    held = next(r for r in release["resources"] if r["kind"] == "ClusterClass")
    assert held["status"] == "not-synced" and "error" not in held
    stack = result["ClusterStack/openstack-birch-1-31"]
    assert stack["usableVersions"] == "v1"
    summary = {s["name"]: s for s in stack["summary"]}
    assert summary["v2"] == {
        "name": "v2",
        "ready": False,
        "phase": "provider-specific work",
        "message": message,
    }
    # waiting is not failing: the stack is synced, and ready with its v1
    assert all(c["status"] == "True" for c in stack["conditions"])
    assert "NodeImagesReady" not in conditions(result[f"ClusterStackRelease/{V1}"])


def test_usable_versions_are_joined_as_cso_joins_them() -> None:
    result = statuses(objects(), waiting=False)
    stack = result["ClusterStack/openstack-birch-1-31"]
    assert stack["usableVersions"] == "v1, v2"
    assert stack["latestRelease"] == f"{V2} | v1.31.7"
    assert conditions(result[f"ClusterStackRelease/{V2}"])["NodeImagesReady"]["status"] == "True"


def test_nothing_usable_yet_says_what_it_waits_for() -> None:
    objs = [o for o in objects() if o.id.name != V1]
    stack = statuses(objs, waiting=True)["ClusterStack/openstack-birch-1-31"]
    ready = conditions(stack)["Ready"]
    assert ready["status"] == "False" and ready["reason"] == "ProcessOngoing"
    assert ready["message"].startswith(f"{V2}: waiting for node image")
    assert stack["usableVersions"] == "" and "latestRelease" not in stack
