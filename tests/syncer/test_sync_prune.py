"""Releases come and go: in-use protection, prune guards, empty and broken revisions."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from csops.syncer.controller import sync_once
from csops.syncer.errors import ApiError, RevisionError
from csops.syncer.kube import Kube
from csops.syncer.objects import ObjectId
from csops.syncer.settings import Settings
from tests.polling import eventually
from tests.syncer.conftest import StacksRepo

pytestmark = pytest.mark.integration

OLD, NEW = "docker-alder-1-29-v1", "docker-alder-1-29-v2"
CC = "cluster.x-k8s.io/v1beta1"


def replace_release(repo: StacksRepo, old: str, new: str) -> None:
    """What a render does when a stack gets a new version and the old one leaves git."""
    manifests = repo.manifests
    for path in sorted(manifests.rglob("*.yaml")):
        text = path.read_text()
        if old in path.name or old in text:
            target = path.with_name(path.name.replace(old, new))
            path.unlink()
            target.write_text(text.replace(old, new))
    stack = (
        manifests / repo.namespace / "clusterstack.clusterstack.x-k8s.io" / "docker-alder-1-29.yaml"
    )
    stack.write_text(stack.read_text().replace("- v1", "- v2"))
    releases = repo.work / "rendered" / "releases"
    shutil.copytree(releases / old, releases / new)


def exists(kube: Kube, api_version: str, kind: str, ns: str, name: str) -> bool:
    return kube.get_or_none(kube.resource(api_version, kind), ns, name) is not None


def make_cluster(kube: Kube, ns: str, name: str, cls: str, class_ns: str) -> dict[str, Any]:
    """Create a Cluster on ``cls``; while the API server has not yet resolved the parameter
    kind of the admission policy the sync just applied (its CRD is new), it refuses every
    Cluster with "failed to configure policy": that answer is waited out."""
    res = kube.resource(CC, "Cluster")
    body = {
        "apiVersion": CC,
        "kind": "Cluster",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"topology": {"class": cls, "classNamespace": class_ns, "version": "v1.29.4"}},
    }

    def create() -> dict[str, Any] | None:
        try:
            return kube.create(res, body)
        except ApiError as exc:
            if "failed to configure policy" not in str(exc):
                raise
            return None

    created: dict[str, Any] = eventually(create, what="the admission policy in force")
    return created


def test_release_in_use_is_kept_until_the_last_cluster_moves(
    kube: Kube, stacks_repo: StacksRepo, sync_config: Settings, other_namespace: str
) -> None:
    ns = stacks_repo.namespace
    assert sync_once(sync_config, kube).ok
    make_cluster(kube, other_namespace, "workload", OLD, ns)  # another namespace, classNamespace
    replace_release(stacks_repo, OLD, NEW)
    stacks_repo.commit("alder 1.29: v2 replaces v1")

    result = sync_once(sync_config, kube)
    assert result.ok, result.state()
    kept = {oid.name for oid in (result.prune.kept_in_use if result.prune else {})}
    assert OLD in kept and f"{OLD}-control-plane" in kept and not result.pruned
    assert exists(kube, CC, "ClusterClass", ns, OLD)
    assert exists(kube, "clusterstack.x-k8s.io/v1alpha1", "ClusterStackRelease", ns, OLD)
    assert exists(
        kube,
        "infrastructure.cluster.x-k8s.io/v1beta1",
        "DockerMachineTemplate",
        ns,
        f"{OLD}-control-plane",
    )
    assert exists(kube, CC, "ClusterClass", ns, NEW)
    stack = kube.get(
        kube.resource("clusterstack.x-k8s.io/v1alpha1", "ClusterStack"), ns, "docker-alder-1-29"
    )
    summary = {s["name"]: s for s in stack["status"]["summary"]}
    assert "kept: in use by" in summary["v1"]["message"]

    # the Cluster moves to v2: the next pass prunes v1
    clusters = kube.resource(CC, "Cluster")

    def moved() -> bool:
        live = kube.get(clusters, other_namespace, "workload")
        live["spec"]["topology"]["class"] = NEW
        try:
            kube.replace(clusters, live)
        except ApiError as exc:
            if exc.status != 409:  # Cluster API's controllers wrote the Cluster in between
                raise
            return False
        return True

    eventually(moved, what="the Cluster moved to v2")
    result = sync_once(sync_config, kube)
    assert result.ok, result.state()
    pruned = {oid.name for oid in result.pruned}
    assert {OLD, f"{OLD}-control-plane", f"{OLD}-node-images"} <= pruned
    assert not exists(kube, CC, "ClusterClass", ns, OLD)
    assert not exists(kube, "clusterstack.x-k8s.io/v1alpha1", "ClusterStackRelease", ns, OLD)
    assert exists(kube, CC, "ClusterClass", ns, NEW)


def test_empty_or_broken_revision_prunes_nothing(
    kube: Kube, stacks_repo: StacksRepo, sync_config: Settings
) -> None:
    first = sync_once(sync_config, kube)
    assert first.ok
    count = len(first.outcomes) + len(first.held)  # held: class objects waiting for images
    (stacks_repo.manifests / "crds" / "broken.yaml").write_text("kind: [unclosed\n")
    stacks_repo.commit("broken yaml")
    with pytest.raises(RevisionError, match=r"broken.yaml:\d+: not valid YAML"):
        sync_once(sync_config, kube)
    shutil.rmtree(stacks_repo.manifests)
    stacks_repo.manifests.mkdir(parents=True)
    (stacks_repo.manifests / ".keep").write_text("")
    stacks_repo.commit("empty")
    with pytest.raises(RevisionError, match="no Kubernetes objects"):
        sync_once(sync_config, kube)
    assert exists(kube, CC, "ClusterClass", stacks_repo.namespace, OLD)
    members = sync_config  # inventory untouched: same member count as after the first sync
    from csops.syncer.inventory import InventoryStore

    inv = InventoryStore(kube, members.name, members.inventory_namespace).read()
    assert len(inv.members) == count


def test_mass_prune_needs_a_flag(
    kube: Kube, stacks_repo: StacksRepo, sync_config: Settings
) -> None:
    assert sync_once(sync_config, kube).ok
    stacks_repo.drop_nearly_everything()
    result = sync_once(sync_config, kube)
    assert result.prune is not None and result.prune.blocked and not result.pruned
    assert exists(kube, CC, "ClusterClass", stacks_repo.namespace, OLD)
    from dataclasses import replace

    from csops.syncer.prune import PruneGuards

    options = replace(sync_config.options, guards=PruneGuards(allow_mass_prune=True))
    result = sync_once(replace(sync_config, options=options), kube)
    assert result.ok and len(result.pruned) > 20
    assert not exists(kube, CC, "ClusterClass", stacks_repo.namespace, OLD)
    assert ObjectId("", "Namespace", "", stacks_repo.namespace) not in result.pruned
