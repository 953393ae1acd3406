"""The admission policies in the rendered tree: what csops.yaml asks for, and the class table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from csops.renderer import render_repo, write
from csops.renderer.admission import CHANNEL_POLICY, CLASS_TABLE, CLUSTER_POLICY, STACK_POLICY

pytestmark = pytest.mark.integration

POLICIES = "cluster-scoped/validatingadmissionpolicy.admissionregistration.k8s.io"
BINDINGS = "cluster-scoped/validatingadmissionpolicybinding.admissionregistration.k8s.io"
TABLE = f"cluster-scoped/clusterclasstable.csops.io/{CLASS_TABLE}.yaml"


def rendered(repo: Path) -> dict[str, dict[str, Any]]:
    write(render_repo(repo))
    base = repo / "rendered" / "manifests"
    return {
        p.relative_to(base).as_posix(): yaml.safe_load(p.read_text())
        for p in sorted(base.rglob("*.yaml"))
    }


def configure(repo: Path, text: str) -> None:
    config = repo / "csops.yaml"
    config.write_text(config.read_text() + text)


def test_policies_bindings_and_class_table_are_rendered(stacks_repo: Path) -> None:
    tree = rendered(stacks_repo)
    for name in (CLUSTER_POLICY, STACK_POLICY):
        assert tree[f"{POLICIES}/{name}.yaml"]["spec"]["failurePolicy"] == "Fail"
        binding = tree[f"{BINDINGS}/{name}.yaml"]["spec"]
        assert binding["policyName"] == name and binding["validationActions"] == ["Deny"]
    advice = tree[f"{BINDINGS}/{CHANNEL_POLICY}.yaml"]["spec"]
    assert advice["validationActions"] == ["Warn"]
    cluster_binding = tree[f"{BINDINGS}/{CLUSTER_POLICY}.yaml"]["spec"]
    assert cluster_binding["paramRef"] == {"name": CLASS_TABLE, "parameterNotFoundAction": "Allow"}
    assert "paramRef" not in tree[f"{BINDINGS}/{STACK_POLICY}.yaml"]["spec"]
    assert tree[TABLE]["classes"] == {
        "cluster.docker-alder-1-29-v1": "v1.29.4",
        "cluster.docker-alder-1-30-v1": "v1.30.2",
        "cluster.openstack-birch-1-31-v1": "v1.31.6",
    }
    assert tree["crds/clusterclasstables.csops.io.yaml"]["spec"]["scope"] == "Cluster"
    policy = tree[f"{POLICIES}/{CLUSTER_POLICY}.yaml"]["spec"]
    assert policy["paramKind"] == {"apiVersion": "csops.io/v1alpha1", "kind": "ClusterClassTable"}
    assert policy["matchConstraints"]["resourceRules"][0]["apiVersions"] == ["v1beta1", "v1beta2"]


def test_table_follows_the_offers_in_every_namespace(stacks_repo: Path) -> None:
    path = stacks_repo / "clusterstacks" / "docker-alder-1-29.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["metadata"]["namespace"] = "team-b"
    path.write_text(path.read_text() + "---\n" + yaml.safe_dump(doc))
    table = rendered(stacks_repo)[TABLE]["classes"]
    assert table["team-b.docker-alder-1-29-v1"] == table["cluster.docker-alder-1-29-v1"]
    assert "team-b.docker-alder-1-30-v1" not in table


def test_warn_and_audit_reach_both_bindings(stacks_repo: Path) -> None:
    configure(stacks_repo, "admission:\n  validationActions: [Warn, Audit]\n")
    tree = rendered(stacks_repo)
    for name in (CLUSTER_POLICY, STACK_POLICY, CHANNEL_POLICY):
        assert tree[f"{BINDINGS}/{name}.yaml"]["spec"]["validationActions"] == ["Warn", "Audit"]


def test_admission_off_renders_no_policy(stacks_repo: Path) -> None:
    for switch in ("admission: false\n", "admission: off\n", "admission:\n  enabled: false\n"):
        config = stacks_repo / "csops.yaml"
        original = config.read_text()
        configure(stacks_repo, switch)
        tree = rendered(stacks_repo)
        assert not any("admission" in p or CLASS_TABLE in p for p in tree), switch
        assert "crds/clusterclasstables.csops.io.yaml" not in tree
        config.write_text(original)
    assert f"{POLICIES}/{CLUSTER_POLICY}.yaml" in rendered(stacks_repo)


def test_changed_identity_is_a_warning_when_policies_do_not_deny(stacks_repo: Path) -> None:
    write(render_repo(stacks_repo))
    path = stacks_repo / "clusterstacks" / "docker-alder-1-29.yaml"
    path.write_text(path.read_text().replace("channel: stable", "channel: custom"))
    configure(stacks_repo, "admission:\n  validationActions: [Warn]\n")
    result = render_repo(stacks_repo)
    assert [str(w) for w in result.warnings if w.field == "spec.channel"] == [
        "clusterstacks/docker-alder-1-29.yaml: spec.channel: changes from 'stable' to 'custom', "
        "but the field is immutable: the cluster refuses the change (keep the value, or give "
        "the ClusterStack a new metadata.name; csops prunes the old one once no Cluster uses "
        "its classes)"
    ]


def test_other_channels_on_a_stable_stack_are_advice(stacks_repo: Path) -> None:
    write(render_repo(stacks_repo))
    releases = render_repo(stacks_repo, mode="hash").releases  # cuts hash-mode releases
    sha = next(r.version.dot for r in releases.values() if r.version.channel == "sha")
    path = stacks_repo / "clusterstacks" / "docker-alder-1-29.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["spec"]["versions"] = ["v1", sha]
    path.write_text(yaml.safe_dump(doc))
    result = render_repo(stacks_repo, mode="hash")
    advice = [str(w) for w in result.warnings if w.field.startswith("spec.versions")]
    assert advice == [
        f"clusterstacks/docker-alder-1-29.yaml: spec.versions[1]: {sha} is not in the stable "
        "channel (v<major>) of this ClusterStack (CSO documents that versions correspond to "
        "the channel; new ClusterStacks listing other channels should use channel: custom)"
    ]
