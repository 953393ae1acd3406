"""The rendered policies on the real API server, after ``csops sync`` of the example stacks.

Policies take effect when the API server's informers see them, so each test first waits
(bounded, by dry-run requests) until the guard answers, then checks what it must refuse and
what it must let through.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from csops.syncer.controller import sync_once
from csops.syncer.kube import Kube
from csops.syncer.settings import Settings
from tests.admission.conftest import Answer, User, answered
from tests.polling import eventually
from tests.syncer.conftest import StacksRepo

pytestmark = pytest.mark.integration

V1B1 = "cluster.x-k8s.io/v1beta1"
V1B2 = "cluster.x-k8s.io/v1beta2"
CS = "clusterstack.x-k8s.io/v1alpha1"
ALDER29, ALDER30, BIRCH31 = (
    "docker-alder-1-29-v1",
    "docker-alder-1-30-v1",
    "openstack-birch-1-31-v1",
)
K8S = {ALDER29: "v1.29.4", ALDER30: "v1.30.2", BIRCH31: "v1.31.6"}


def cluster(
    ns: str, cls: str, version: str, *, name: str = "", class_ns: str = ""
) -> dict[str, Any]:
    topology: dict[str, Any] = {"class": cls, "version": version}
    if class_ns:
        topology["classNamespace"] = class_ns
    return {
        "apiVersion": V1B1,
        "kind": "Cluster",
        "metadata": {
            "name": name or f"c-{secrets.token_hex(3)}",
            "namespace": ns,
            # Cluster API's webhook refuses a version change while the control plane (which
            # nothing provisions here) is provisioning; csops's policies are what is tested
            "annotations": {"unsafe.topology.cluster.x-k8s.io/disable-update-version-check": ""},
        },
        "spec": {"topology": topology},
    }


def refused(answer: Answer) -> bool:
    return answer.status == 422


def wait_guarded(user: User, ns: str) -> None:
    """Block until the Cluster policy and its class table are in force in ``ns``."""
    bad = cluster(ns, ALDER29, "v1.31.0")
    eventually(
        answered(lambda: user.create(bad, dry_run=True), refused),
        what=f"the policy refusing a wrong version in {ns}",
    )


@pytest.fixture
def synced(kube: Kube, stacks_repo: StacksRepo, sync_config: Settings, user: User) -> StacksRepo:
    result = sync_once(sync_config, kube)
    assert result.ok, "\n".join(f"{k}: {v}" for k, v in result.state()["failed"].items())
    wait_guarded(user, stacks_repo.namespace)
    return stacks_repo


def test_wrong_version_is_refused_naming_class_and_version(synced: StacksRepo, user: User) -> None:
    answer = user.create(cluster(synced.namespace, ALDER29, "v1.31.0"))
    assert answer.status == 422
    assert ALDER29 in answer.message and "v1.29.4" in answer.message and "v1.31.0" in answer.message
    assert "csops-cluster-topology" in answer.message


def test_matching_cluster_and_foreign_classes_are_accepted(synced: StacksRepo, user: User) -> None:
    ns = synced.namespace
    for cls, version in K8S.items():
        answer = user.create(cluster(ns, cls, version))
        assert answer.ok, answer
    assert user.create(cluster(ns, "someone-elses-class", "v1.20.0")).ok
    no_topology = cluster(ns, ALDER29, "v1.29.4")
    # Cluster API's own webhook wants one of topology, controlPlaneRef or infrastructureRef
    no_topology["spec"] = {
        "infrastructureRef": {
            "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
            "kind": "DockerCluster",
            "name": no_topology["metadata"]["name"],
        }
    }
    assert user.create(no_topology).ok


def test_class_namespace_is_honoured(synced: StacksRepo, user: User, other_namespace: str) -> None:
    ns = synced.namespace
    wrong = cluster(other_namespace, ALDER29, "v1.30.2", class_ns=ns)
    answer = user.create(wrong)
    assert refused(answer) and "v1.29.4" in answer.message, answer
    assert user.create(cluster(other_namespace, ALDER29, "v1.29.4", class_ns=ns)).ok
    # a class of the same name in a namespace csops renders nothing into is not guarded
    assert user.create(cluster(other_namespace, ALDER29, "v1.30.2")).ok


def test_v1beta2_class_ref_is_guarded(synced: StacksRepo, user: User, other_namespace: str) -> None:
    ns = synced.namespace

    def v1beta2(version: str, class_ns: str | None) -> dict[str, Any]:
        ref = {"name": ALDER30, **({"namespace": class_ns} if class_ns else {})}
        return {
            "apiVersion": V1B2,
            "kind": "Cluster",
            "metadata": {
                "name": f"c-{secrets.token_hex(3)}",
                "namespace": other_namespace if class_ns else ns,
            },
            "spec": {"topology": {"classRef": ref, "version": version}},
        }

    answer = user.create(v1beta2("v1.29.4", None))
    assert refused(answer) and ALDER30 in answer.message and "v1.30.2" in answer.message
    assert refused(user.create(v1beta2("v1.29.4", ns)))
    assert user.create(v1beta2("v1.30.2", None)).ok
    assert user.create(v1beta2("v1.30.2", ns)).ok


def test_class_switches_stay_in_the_stack(synced: StacksRepo, user: User) -> None:
    ns = synced.namespace
    created = user.create(cluster(ns, ALDER29, K8S[ALDER29], name="upgrade-me"))
    assert created.ok, created
    live = created.body

    def switch(cls: str, version: str) -> Answer:
        return user.patch(live, {"spec": {"topology": {"class": cls, "version": version}}})

    cross = switch(BIRCH31, K8S[BIRCH31])
    assert refused(cross) and "provider from docker to openstack" in cross.message, cross
    plus_two = switch("docker-alder-1-31-v1", "v1.31.0")
    assert refused(plus_two) and "1.29 to 1.31" in plus_two.message, plus_two
    assert "1.29 or 1.30" in plus_two.message
    wrong_version = switch(ALDER30, "v1.30.0")
    assert refused(wrong_version) and "v1.30.2" in wrong_version.message
    # unrelated updates never change class or version and are never refused
    assert user.patch(live, {"metadata": {"labels": {"team": "a"}}}).ok
    assert user.patch(live, {"spec": {"paused": True}}).ok
    # a same-stack switch to the next minor, with its version, is the upgrade CSO allows
    upgraded = switch(ALDER30, K8S[ALDER30])
    assert upgraded.ok, upgraded
    down = user.patch(
        upgraded.body, {"spec": {"topology": {"class": ALDER29, "version": K8S[ALDER29]}}}
    )
    assert refused(down) and "1.30 to 1.29" in down.message


def test_cluster_stack_spec_is_guarded(synced: StacksRepo, user: User, kube: Kube) -> None:
    ns = synced.namespace
    stack = kube.get(kube.resource(CS, "ClusterStack"), ns, "docker-alder-1-29")
    for patch, text in (
        ({"kubernetesVersion": "1.30"}, "spec.kubernetesVersion is immutable"),
        ({"provider": "openstack"}, "spec.provider is immutable"),
        ({"name": "birch"}, "spec.name is immutable"),
        ({"channel": "custom"}, "spec.channel is immutable"),
        ({"versions": ["v1", "v1.2"]}, "v1.2 is not a cluster stack version"),
        ({"noProvider": False}, "spec.providerRef is required unless spec.noProvider is true"),
    ):
        answer = user.patch(stack, {"spec": patch})
        assert refused(answer) and text in answer.message, (patch, answer)
    assert user.patch(stack, {"spec": {"versions": ["v1", "v2"]}}).ok
    # another channel's version on a stable ClusterStack: CSO accepts it, csops warns
    advised = user.patch(stack, {"spec": {"versions": ["v1", "v0-sha.abcdefg"]}})
    assert advised.ok and any(
        "v0-sha.abcdefg is not in the stable channel" in w for w in advised.warnings
    )
    assert user.patch(stack, {"metadata": {"labels": {"team": "a"}}}).ok
    new = {
        "apiVersion": CS,
        "kind": "ClusterStack",
        "metadata": {"name": "no-provider", "namespace": ns},
        "spec": {"provider": "docker", "name": "alder", "kubernetesVersion": "1.31"},
    }
    answer = user.create(new)
    assert refused(answer) and "spec.providerRef is required" in answer.message
    new["spec"]["channel"] = "custom"
    new["spec"]["versions"] = ["v0-sha.abcdefg"]
    new["spec"]["providerRef"] = {
        "apiVersion": "x/v1",
        "kind": "XClusterStackReleaseTemplate",
        "name": "x",
    }
    assert user.create(new).ok


def _configure(repo: StacksRepo, admission: str) -> None:
    config = repo.work / "csops.yaml"
    config.write_text(config.read_text() + f"admission: {admission}\n")
    repo.render()
    repo.commit(f"admission: {admission}")


def test_warn_and_audit_let_the_request_through(
    synced: StacksRepo, user: User, kube: Kube, sync_config: Settings, audit: Any
) -> None:
    _configure(synced, "{validationActions: [Warn, Audit]}")
    assert sync_once(sync_config, kube).ok
    bad = cluster(synced.namespace, ALDER29, "v1.31.0")
    eventually(
        answered(lambda: user.create(bad, dry_run=True), lambda a: a.ok),
        what="the policy letting a wrong version through",
    )
    answer = user.create(bad)
    assert answer.ok and any("v1.29.4" in w for w in answer.warnings), answer
    name = bad["metadata"]["name"]
    lines = [line for line in audit.path.read_text().splitlines() if f'"name":"{name}"' in line]
    assert any("validation.policy.admission.k8s.io/validation_failure" in line for line in lines)


def test_turning_admission_off_removes_the_policies(
    synced: StacksRepo, user: User, kube: Kube, sync_config: Settings
) -> None:
    _configure(synced, "false")
    result = sync_once(sync_config, kube)
    assert result.ok, result.state()
    gone = {f"{oid.kind}/{oid.name}" for oid in result.pruned}
    assert {
        "ValidatingAdmissionPolicy/csops-cluster-topology",
        "ValidatingAdmissionPolicyBinding/csops-cluster-topology",
        "ValidatingAdmissionPolicy/csops-clusterstack-spec",
        "ClusterClassTable/csops-cluster-classes",
    } <= gone
    for kind in ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"):
        res = kube.resource("admissionregistration.k8s.io/v1", kind)
        assert kube.get_or_none(res, None, "csops-cluster-topology") is None
    bad = cluster(synced.namespace, ALDER29, "v1.31.0")
    eventually(
        answered(lambda: user.create(bad, dry_run=True), lambda a: a.ok),
        what="the policy letting a wrong version through",
    )
    # and back on: the guard works again (its parameter is a CRD object, which the API server
    # keeps resolving after a binding was deleted; a ConfigMap parameter it may not)
    config = synced.work / "csops.yaml"
    config.write_text(config.read_text().replace("admission: false\n", ""))
    synced.render()
    synced.commit("admission back on")
    assert sync_once(sync_config, kube).ok
    wait_guarded(user, synced.namespace)


def test_sync_reports_a_refused_identity_change_and_applies_the_rest(
    synced: StacksRepo, kube: Kube, sync_config: Settings
) -> None:
    """A ClusterStack edited in the rendered tree past csops render: the cluster says no."""
    path = synced.manifests / synced.namespace / "clusterstack.clusterstack.x-k8s.io"
    stack = path / "docker-alder-1-29.yaml"
    stack.write_text(stack.read_text().replace("channel: stable", "channel: custom"))
    other = path / "docker-alder-1-30.yaml"
    other.write_text(other.read_text().replace("- v1", "- v1\n  - v2"))
    synced.commit("hand-edited ClusterStacks")
    result = sync_once(sync_config, kube)
    failed = result.state()["failed"]
    assert list(failed) == [
        f"ClusterStack.clusterstack.x-k8s.io {synced.namespace}/docker-alder-1-29"
    ]
    assert "spec.channel is immutable: it was stable, not custom" in next(iter(failed.values()))
    live = kube.get(kube.resource(CS, "ClusterStack"), synced.namespace, "docker-alder-1-30")
    assert live["spec"]["versions"] == ["v1", "v2"]
    print(next(iter(failed.values())))
