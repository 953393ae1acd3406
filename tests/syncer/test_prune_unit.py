"""Prune planning and class usage without an API server."""

from __future__ import annotations

from typing import Any

import pytest

from csops.renderer import PRUNE_ANNOTATION, RELEASES_ANNOTATION
from csops.syncer.engine import still_there
from csops.syncer.inventory import PART_OF_LABEL
from csops.syncer.objects import ObjectId
from csops.syncer.ordering import CLASSES, FOUNDATION, REST, STAGE_NAMES, is_crd, stage_of, staged
from csops.syncer.prune import PruneGuards, plan
from csops.syncer.usage import ClassUsage, referenced_templates

pytestmark = pytest.mark.unit

SET = "applyset-abc-v1"
NS = "stacks"
CAPI = "cluster.x-k8s.io"
INFRA = "infrastructure.cluster.x-k8s.io"
CS = "clusterstack.x-k8s.io"
ADMISSION = "admissionregistration.k8s.io"


def cluster(ns: str, name: str, topology: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{CAPI}/v1beta1",
        "kind": "Cluster",
        "metadata": {"namespace": ns, "name": name},
        "spec": {"topology": topology},
    }


# ------------------------------------------------------------------ usage


def test_class_usage_defaults_to_the_clusters_namespace() -> None:
    usage = ClassUsage.of([cluster("team-a", "c1", {"class": "docker-alder-1-29-v1"})])
    assert usage.users == {("team-a", "docker-alder-1-29-v1"): ["team-a/c1"]}


def test_class_usage_class_namespace_and_class_ref() -> None:
    usage = ClassUsage.of(
        [
            cluster("team-a", "c1", {"class": "cc", "classNamespace": NS}),  # v1beta1
            cluster("team-b", "c2", {"classRef": {"name": "cc", "namespace": NS}}),  # v1beta2
            cluster("team-c", "c3", {"classRef": {"name": "cc"}}),  # own namespace
            cluster("team-d", "c4", {}),  # no topology class: not a user
            {"metadata": {"namespace": "x", "name": "no-spec"}},
        ]
    )
    assert usage.users == {(NS, "cc"): ["team-a/c1", "team-b/c2"], ("team-c", "cc"): ["team-c/c3"]}


def test_releases_use_the_dash_form() -> None:
    usage = ClassUsage.of(
        [
            cluster(NS, "c1", {"class": "docker-ferrol-1-27-v0-sha.hipstsw"}),
            cluster(NS, "c2", {"class": "docker-alder-1-29-v1"}),
        ]
    )
    assert usage.releases() == {
        (NS, "docker-ferrol-1-27-v0-sha-hipstsw"): [f"{NS}/c1"],
        (NS, "docker-alder-1-29-v1"): [f"{NS}/c2"],
    }


def test_users_of_classes_releases_and_annotated_objects() -> None:
    usage = ClassUsage.of(
        [
            cluster("t1", "a", {"class": "p-s-1-29-v1", "classNamespace": NS}),
            cluster("t2", "b", {"classRef": {"name": "p-s-1-29-v1", "namespace": NS}}),
        ]
    )
    users = ["t1/a", "t2/b"]
    cc = ObjectId(CAPI, "ClusterClass", NS, "p-s-1-29-v1")
    assert usage.users_of(cc, {}, RELEASES_ANNOTATION) == users
    assert (
        usage.users_of(
            ObjectId(CAPI, "ClusterClass", "other", "p-s-1-29-v1"), {}, RELEASES_ANNOTATION
        )
        == []
    )
    assert (
        usage.users_of(
            ObjectId("other.io", "ClusterClass", NS, "p-s-1-29-v1"), {}, RELEASES_ANNOTATION
        )
        == []
    )
    csr = ObjectId(CS, "ClusterStackRelease", NS, "p-s-1-29-v1")
    assert usage.users_of(csr, {}, RELEASES_ANNOTATION) == users
    image = ObjectId("openstack.k-orc.cloud", "Image", NS, "ubuntu")
    annotated = {"metadata": {"annotations": {RELEASES_ANNOTATION: "p-s-1-29-v0, p-s-1-29-v1"}}}
    assert usage.users_of(image, annotated, RELEASES_ANNOTATION) == users
    unused = {"metadata": {"annotations": {RELEASES_ANNOTATION: "p-s-1-29-v0"}}}
    assert usage.users_of(image, unused, RELEASES_ANNOTATION) == []
    assert usage.users_of(image, None, RELEASES_ANNOTATION) == []


def test_referenced_templates() -> None:
    cc = {
        "metadata": {"namespace": NS, "name": "cc"},
        "spec": {
            "infrastructure": {
                "ref": {
                    "apiVersion": f"{INFRA}/v1beta1",
                    "kind": "DockerClusterTemplate",
                    "name": "cc-cluster",
                }
            },
            "controlPlane": {
                "ref": {
                    "apiVersion": "controlplane.cluster.x-k8s.io/v1beta1",
                    "kind": "KubeadmControlPlaneTemplate",
                    "name": "cc-control-plane",
                },
                "machineInfrastructure": {
                    "ref": {
                        "apiVersion": f"{INFRA}/v1beta1",
                        "kind": "DockerMachineTemplate",
                        "name": "cc-cp",
                    }
                },
            },
            "workers": {
                "machineDeployments": [
                    {
                        "class": "default",
                        "template": {
                            "bootstrap": {
                                "ref": {
                                    "apiVersion": "bootstrap.cluster.x-k8s.io/v1beta1",
                                    "kind": "KubeadmConfigTemplate",
                                    "name": "cc-worker",
                                }
                            },
                        },
                    }
                ]
            },
            "variables": [{"name": "x", "schema": {"openAPIV3Schema": {"type": "string"}}}],
        },
    }
    assert referenced_templates(cc) == {
        ObjectId(INFRA, "DockerClusterTemplate", NS, "cc-cluster"),
        ObjectId(
            "controlplane.cluster.x-k8s.io", "KubeadmControlPlaneTemplate", NS, "cc-control-plane"
        ),
        ObjectId(INFRA, "DockerMachineTemplate", NS, "cc-cp"),
        ObjectId("bootstrap.cluster.x-k8s.io", "KubeadmConfigTemplate", NS, "cc-worker"),
    }


# ------------------------------------------------------------------ plan


def live_obj(
    oid: ObjectId,
    *,
    applyset: str = SET,
    annotations: dict[str, str] | None = None,
    spec: dict[str, Any] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": oid.name, "labels": {PART_OF_LABEL: applyset}, "uid": "u"}
    if oid.namespace:
        meta["namespace"] = oid.namespace
    if annotations:
        meta["annotations"] = annotations
    body: dict[str, Any] = {"kind": oid.kind, "metadata": meta}
    if spec is not None:
        body["spec"] = spec
    return body


def cm(name: str) -> ObjectId:
    return ObjectId("", "ConfigMap", NS, name)


def run(
    stale: dict[ObjectId, dict[str, Any] | None],
    *,
    size: int = 10,
    usage: ClassUsage | None = None,
    guards: PruneGuards | None = None,
):  # type: ignore[no-untyped-def]
    return plan(
        set(stale),
        stale.get,
        applyset=SET,
        inventory_size=size,
        usage=usage or ClassUsage(),
        guards=guards or PruneGuards(),
    )


def test_plain_stale_objects_are_deleted_and_gone_ones_noted() -> None:
    a, b, gone = cm("a"), cm("b"), cm("gone")
    result = run({a: live_obj(a), b: live_obj(b), gone: None})
    assert result.delete == [a, b] and result.gone == [gone]
    assert result.blocked is None and result.released == {gone}


def test_nothing_stale_nothing_to_do() -> None:
    result = run({})
    assert result.delete == [] and result.blocked is None


def test_opt_out_annotation_and_foreign_applyset_are_released() -> None:
    keep, foreign, unlabelled = cm("keep"), cm("foreign"), cm("unlabelled")
    stale = {
        keep: live_obj(keep, annotations={PRUNE_ANNOTATION: "disabled"}),
        foreign: live_obj(foreign, applyset="applyset-other-v1"),
        unlabelled: {"metadata": {"name": "unlabelled", "namespace": NS}},
    }
    result = run(stale)
    assert result.delete == [] and sorted(result.orphaned) == sorted(stale)
    assert result.released == set(stale)  # released from the inventory, not deleted
    other_value = run({keep: live_obj(keep, annotations={PRUNE_ANNOTATION: "enabled"})})
    assert other_value.delete == [keep]


def test_crds_and_namespaces_are_protected_unless_allowed() -> None:
    crd = ObjectId("apiextensions.k8s.io", "CustomResourceDefinition", "", "things.example.com")
    ns = ObjectId("", "Namespace", "", "team")
    stale = {crd: live_obj(crd), ns: live_obj(ns)}
    result = run(stale)
    assert result.delete == [] and sorted(result.protected) == sorted(stale)
    assert result.released == set()
    allowed = run(stale, guards=PruneGuards(allow_crd_prune=True))
    assert sorted(allowed.delete) == sorted(stale) and allowed.protected == []


@pytest.mark.parametrize(
    ("stale_count", "size", "blocked"),
    [(5, 10, False), (6, 10, True), (1, 2, False), (1, 1, True), (3, 4, True)],
)
def test_share_limit(stale_count: int, size: int, blocked: bool) -> None:
    stale = {cm(f"o{i}"): live_obj(cm(f"o{i}")) for i in range(stale_count)}
    result = run(stale, size=size)
    assert (result.blocked is not None) is blocked
    if blocked:
        assert f"{stale_count} of {size}" in (result.blocked or "")
        assert result.released == set()  # blocked: everything stays in the inventory
        forced = run(stale, size=size, guards=PruneGuards(allow_mass_prune=True))
        assert forced.blocked is None and len(forced.delete) == stale_count
    else:
        assert result.released == set()


def test_a_blocked_prune_releases_nothing_not_even_the_gone_and_the_opted_out() -> None:
    stale = {cm(f"o{i}"): live_obj(cm(f"o{i}")) for i in range(4)}
    gone, kept = cm("gone"), cm("kept")
    stale |= {gone: None, kept: live_obj(kept, annotations={PRUNE_ANNOTATION: "disabled"})}
    result = run(stale, size=6)
    assert result.blocked is not None and result.gone == [gone] and result.orphaned == [kept]
    assert result.released == set()


def test_share_counts_only_deletable_objects() -> None:
    crd = ObjectId("apiextensions.k8s.io", "CustomResourceDefinition", "", "x.example.com")
    keep = cm("keep")
    stale = {
        crd: live_obj(crd),
        keep: live_obj(keep, annotations={PRUNE_ANNOTATION: "disabled"}),
        cm("a"): live_obj(cm("a")),
    }
    assert run(stale, size=4).blocked is None


def test_custom_share() -> None:
    stale = {cm(f"o{i}"): live_obj(cm(f"o{i}")) for i in range(2)}
    assert run(stale, size=10, guards=PruneGuards(max_share=0.1)).blocked is not None


def test_in_use_cluster_class_keeps_templates_and_release_objects() -> None:
    name = "docker-alder-1-29-v1"
    cc = ObjectId(CAPI, "ClusterClass", NS, name)
    tmpl = ObjectId(INFRA, "DockerMachineTemplate", NS, f"{name}-cp")
    unref_tmpl = ObjectId(INFRA, "DockerMachineTemplate", NS, "something-else")
    csr = ObjectId(CS, "ClusterStackRelease", NS, name)
    image = ObjectId("openstack.k-orc.cloud", "Image", NS, "ubuntu")
    other_cc = ObjectId(CAPI, "ClusterClass", NS, "docker-alder-1-29-v0")
    spec = {
        "infrastructure": {
            "ref": {
                "apiVersion": f"{INFRA}/v1beta1",
                "kind": "DockerMachineTemplate",
                "name": f"{name}-cp",
            }
        }
    }
    stale = {
        cc: live_obj(cc, spec=spec),
        tmpl: live_obj(tmpl),
        unref_tmpl: live_obj(unref_tmpl),
        csr: live_obj(csr),
        image: live_obj(image, annotations={RELEASES_ANNOTATION: name}),
        other_cc: live_obj(other_cc, spec={}),
    }
    usage = ClassUsage.of([cluster("workloads", "w1", {"class": name, "classNamespace": NS})])
    result = run(stale, size=20, usage=usage)
    assert set(result.kept_in_use) == {cc, tmpl, csr, image}
    assert result.kept_in_use[cc] == ["workloads/w1"]
    assert result.kept_in_use[tmpl] == ["(template of a ClusterClass in use)"]
    assert sorted(result.delete) == sorted([unref_tmpl, other_cc])
    assert not {cc, tmpl, csr, image} & result.released

    # the same class used from its own namespace: Cluster in another namespace without
    # classNamespace does not count
    elsewhere = ClassUsage.of([cluster("workloads", "w1", {"class": name})])
    assert run(stale, size=20, usage=elsewhere).kept_in_use == {}


def test_in_use_class_is_kept_even_over_the_share_limit() -> None:
    name = "p-s-1-29-v1"
    cc = ObjectId(CAPI, "ClusterClass", NS, name)
    usage = ClassUsage.of([cluster(NS, "c", {"class": name})])
    result = run({cc: live_obj(cc, spec={})}, size=1, usage=usage)
    assert result.blocked is None and result.delete == [] and cc not in result.released


# ------------------------------------------------------------------ ordering


@pytest.mark.parametrize(
    ("oid", "stage"),
    [
        (ObjectId("apiextensions.k8s.io", "CustomResourceDefinition", "", "x"), FOUNDATION),
        (ObjectId("", "Namespace", "", "x"), FOUNDATION),
        (ObjectId("example.com", "Namespace", "", "x"), REST),  # a CR called Namespace
        (ObjectId(CAPI, "ClusterClass", NS, "x"), CLASSES),
        (ObjectId(INFRA, "DockerMachineTemplate", NS, "x"), CLASSES),
        (ObjectId("storage.k8s.io", "StorageClass", "", "x"), CLASSES),
        (ObjectId(CS, "ClusterStack", NS, "x"), REST),
        (ObjectId("", "ConfigMap", NS, "x"), REST),
        (ObjectId(ADMISSION, "ValidatingAdmissionPolicy", "", "x"), CLASSES),
        (ObjectId(ADMISSION, "ValidatingAdmissionPolicyBinding", "", "x"), REST),
    ],
)
def test_stage_of(oid: ObjectId, stage: int) -> None:
    assert stage_of(oid) == stage


def test_staged_keeps_order_and_empty_stages() -> None:
    items = [
        ObjectId("", "ConfigMap", NS, "b"),
        ObjectId(CAPI, "ClusterClass", NS, "cc"),
        ObjectId("", "ConfigMap", NS, "a"),
        ObjectId("", "Namespace", "", NS),
    ]
    assert staged(items, key=lambda o: o) == [[items[3]], [items[1]], [items[0], items[2]]]
    assert staged([items[0]], key=lambda o: o) == [[], [], [items[0]]]
    assert len(STAGE_NAMES) == 3


def test_is_crd() -> None:
    assert is_crd(ObjectId("apiextensions.k8s.io", "CustomResourceDefinition", "", "x"))
    assert not is_crd(ObjectId("example.com", "CustomResourceDefinition", "", "x"))


def test_a_delete_answer_tells_whether_the_object_is_still_there() -> None:
    marked = {"name": "a", "deletionTimestamp": "2026-12-02T00:00:00Z", "finalizers": ["x"]}
    assert not still_there(None)  # it was gone before
    assert not still_there({"kind": "Status", "apiVersion": "v1", "status": "Success"})
    assert not still_there({"kind": "ConfigMap", "metadata": {"name": "a"}})  # deleted at once
    assert still_there({"kind": "ConfigMap", "metadata": marked})
