"""Rendering the example stacks through the real Helm engine."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from csops.renderer import render_repo, write
from csops.renderer.errors import ImmutableReleaseError, RendererError
from csops.renderer.hashes import stack_hash
from tests.renderer.conftest import EXAMPLES, snapshot

pytestmark = pytest.mark.integration

ALDER = Path("providers/docker/alder/1-29")
BIRCH = Path("providers/openstack/birch")


def render(repo: Path, **kwargs: object) -> object:
    result = render_repo(repo, **kwargs)  # type: ignore[arg-type]
    write(result)
    return result


def manifest(repo: Path, rel: str) -> dict:
    return yaml.safe_load((repo / "rendered" / "manifests" / rel).read_text())


def offer(repo: Path, stack: str, versions: list[str], auto: bool = False) -> None:
    path = repo / "clusterstacks" / f"{stack}.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["spec"]["versions"] = versions
    doc["spec"]["autoSubscribe"] = auto
    path.write_text(yaml.safe_dump(doc))


def test_committed_example_tree_is_the_golden_render(tmp_path: Path) -> None:
    """stacks/rendered is pinned: a fresh full render reproduces it byte for byte."""
    repo = tmp_path / "stacks"
    shutil.copytree(EXAMPLES, repo)
    committed = snapshot(repo / "rendered")
    assert committed, "stacks/rendered must be committed (run `make demo`)"
    result = render_repo(repo, full=True)
    assert not result.diff, result.diff
    assert result.helm_renders == 3


def test_render_is_deterministic_and_idempotent(stacks_repo: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(stacks_repo, other)
    first = render(stacks_repo)
    render(other)
    assert snapshot(stacks_repo / "rendered") == snapshot(other / "rendered")
    again = render_repo(stacks_repo)
    assert not again.diff
    assert again.helm_renders == 0, "unchanged releases must not go through Helm again"
    assert first.new_releases == [  # type: ignore[attr-defined]
        "docker-alder-1-29-v1",
        "docker-alder-1-30-v1",
        "openstack-birch-1-31-v1",
    ]


def test_rendered_objects_follow_cso(stacks_repo: Path) -> None:
    render(stacks_repo)
    cc = manifest(stacks_repo, "cluster/clusterclass.cluster.x-k8s.io/docker-alder-1-29-v1.yaml")
    assert cc["metadata"]["namespace"] == "cluster"
    assert cc["metadata"]["annotations"]["csops.io/releases"] == "docker-alder-1-29-v1"
    assert cc["metadata"]["labels"]["clusterstack.x-k8s.io/instance"] == "owned"
    assert cc["spec"]["infrastructure"]["ref"]["name"] == "docker-alder-1-29-v1-cluster"
    # CAPI templates survive Helm.
    enabled = {p["name"]: p.get("enabledIf") for p in cc["spec"]["patches"]}
    assert enabled["imageRepository"] == '{{ ne .imageRepository "" }}'

    image = manifest(
        stacks_repo, "cluster/image.openstack.k-orc.cloud/ubuntu-capi-image-v1.31.6.yaml"
    )
    assert image["metadata"]["annotations"]["csops.io/releases"] == "openstack-birch-1-31-v1"
    csr = manifest(
        stacks_repo,
        "cluster/clusterstackrelease.clusterstack.x-k8s.io/openstack-birch-1-31-v1.yaml",
    )
    assert csr["kind"] == "ClusterStackRelease"
    ns = manifest(stacks_repo, "cluster-scoped/namespace/cluster.yaml")
    assert ns["metadata"]["annotations"]["csops.io/prune"] == "disabled"
    crds = sorted(p.name for p in (stacks_repo / "rendered/manifests/crds").iterdir())
    assert crds == [
        "clusteraddons.clusterstack.x-k8s.io.yaml",
        "clusterclasstables.csops.io.yaml",  # the admission policy's parameter
        "clusterstackreleases.clusterstack.x-k8s.io.yaml",
        "clusterstacks.clusterstack.x-k8s.io.yaml",
    ]


def test_release_bundle_is_cso_compatible(stacks_repo: Path) -> None:
    render(stacks_repo)
    old = stacks_repo / "rendered/releases/docker-alder-1-29-v1"
    names = sorted(p.name for p in old.iterdir())
    assert names == [
        "cluster-addon",
        "cluster-addon-values.yaml",
        "cluster-class",
        "docker-alder-1-29-cluster-addon-v1.tgz",
        "docker-alder-1-29-cluster-class-v1.tgz",
        "hashes.json",
        "metadata.yaml",
        "node-images.yaml",
    ]
    metadata = yaml.safe_load((old / "metadata.yaml").read_text())
    assert metadata == {
        "apiVersion": "metadata.clusterstack.x-k8s.io/v1alpha1",
        "versions": {
            "clusterStack": "v1",
            "kubernetes": "v1.29.4",
            "components": {"clusterAddon": "v1", "nodeImage": "v1"},
        },
    }
    chart = yaml.safe_load((old / "cluster-class/Chart.yaml").read_text())
    assert chart["version"] == "v1"
    hashes = json.loads((old / "hashes.json").read_text())
    assert hashes["clusterStack"] == stack_hash(stacks_repo / ALDER)
    new = stacks_repo / "rendered/releases/openstack-birch-1-31-v1"
    assert (new / "clusteraddon.yaml").is_file()
    assert (new / "openstack-birch-1-31-cluster-addon-v1.tgz").is_file()
    assert (new / "cluster-addon/metrics-server/charts").is_dir()


def test_class_only_change_is_releasable_and_keeps_component_versions(stacks_repo: Path) -> None:
    render(stacks_repo)
    template = stacks_repo / ALDER / "cluster-class/templates/docker-cluster-template.yaml"
    template.write_text(template.read_text() + "# class-only change\n")
    offer(stacks_repo, "docker-alder-1-29", ["v1", "v2"])
    result = render(stacks_repo)
    assert result.new_releases == ["docker-alder-1-29-v2"]  # type: ignore[attr-defined]
    meta = yaml.safe_load(
        (stacks_repo / "rendered/releases/docker-alder-1-29-v2/metadata.yaml").read_text()
    )
    assert meta["versions"]["clusterStack"] == "v2"
    assert meta["versions"]["components"] == {"clusterAddon": "v1", "nodeImage": "v1"}
    # Both classes are offered; v1 still renders from its immutable bundle.
    classes = stacks_repo / "rendered/manifests/cluster/clusterclass.cluster.x-k8s.io"
    assert {p.name for p in classes.iterdir()} >= {
        "docker-alder-1-29-v1.yaml",
        "docker-alder-1-29-v2.yaml",
    }


def test_component_versions_bump_only_with_their_layer(stacks_repo: Path) -> None:
    render(stacks_repo)
    values = stacks_repo / ALDER / "cluster-addon-values.yaml"
    values.write_text(values.read_text() + "# addon change\n")
    render(stacks_repo)
    (stacks_repo / ALDER / "node-images").mkdir()
    (stacks_repo / ALDER / "node-images" / "Dockerfile").write_text("FROM scratch\n")
    render(stacks_repo)
    readme = stacks_repo / ALDER / "README.md"
    readme.write_text("docs only: no new release\n")
    result = render(stacks_repo)
    assert result.new_releases == []  # type: ignore[attr-defined]
    metas = {
        v: yaml.safe_load(
            (stacks_repo / f"rendered/releases/docker-alder-1-29-{v}/metadata.yaml").read_text()
        )["versions"]["components"]
        for v in ("v2", "v3")
    }
    assert metas["v2"] == {"clusterAddon": "v2", "nodeImage": "v1"}
    assert metas["v3"] == {"clusterAddon": "v2", "nodeImage": "v2"}


def test_hash_mode_matches_csops_hash(stacks_repo: Path, csops) -> None:  # type: ignore[no-untyped-def]
    printed = csops("hash", stacks_repo / ALDER)
    assert printed.exit_code == 0
    stack_hash_value, version = printed.stdout.split()
    assert version == f"v0-sha.{stack_hash_value[:7]}"
    render(stacks_repo)
    offer(stacks_repo, "docker-alder-1-29", ["v1", version])
    result = render(stacks_repo, mode="hash")
    release = f"docker-alder-1-29-v0-sha-{stack_hash_value[:7]}"
    assert release in result.new_releases  # type: ignore[attr-defined]
    cc = manifest(
        stacks_repo, f"cluster/clusterclass.cluster.x-k8s.io/docker-alder-1-29-{version}.yaml"
    )
    assert cc["metadata"]["name"] == f"docker-alder-1-29-{version}"


def test_one_changed_stack_rerenders_only_that_stack(stacks_repo: Path) -> None:
    render(stacks_repo)
    template = stacks_repo / BIRCH / "cluster-class/templates/cluster-class.yaml"
    template.write_text(template.read_text() + "# change\n")
    offer(stacks_repo, "openstack-birch-1-31", ["v1"], auto=True)
    result = render_repo(stacks_repo)
    assert result.new_releases == ["openstack-birch-1-31-v2"]
    # v2 is new (1 render); v1 and the alder releases are reused from the tree.
    assert result.helm_renders == 1


def test_shared_identical_object_lists_every_release(stacks_repo: Path) -> None:
    render(stacks_repo)
    template = stacks_repo / BIRCH / "cluster-class/templates/cluster-class.yaml"
    template.write_text(template.read_text() + "# change\n")
    offer(stacks_repo, "openstack-birch-1-31", ["v1", "v2"])
    render(stacks_repo)
    image = manifest(
        stacks_repo, "cluster/image.openstack.k-orc.cloud/ubuntu-capi-image-v1.31.6.yaml"
    )
    assert image["metadata"]["annotations"]["csops.io/releases"] == (
        "openstack-birch-1-31-v1,openstack-birch-1-31-v2"
    )


def test_removed_cluster_stack_leaves_manifests_but_keeps_releases(stacks_repo: Path) -> None:
    render(stacks_repo)
    (stacks_repo / "clusterstacks/docker-alder-1-30.yaml").unlink()
    render(stacks_repo)
    assert not (
        stacks_repo
        / "rendered/manifests/cluster/clusterclass.cluster.x-k8s.io/docker-alder-1-30-v1.yaml"
    ).exists()
    assert (stacks_repo / "rendered/releases/docker-alder-1-30-v1/metadata.yaml").is_file()


def test_tampered_release_is_refused_and_nothing_written(stacks_repo: Path) -> None:
    render(stacks_repo)
    bundle = stacks_repo / "rendered/releases/docker-alder-1-29-v1"
    chart = bundle / "cluster-class/values.yaml"
    chart.write_text(chart.read_text() + "tampered: true\n")
    before = snapshot(stacks_repo / "rendered")
    with pytest.raises(ImmutableReleaseError) as info:
        render(stacks_repo)
    text = str(info.value)
    assert "docker-alder-1-29-v1" in text
    assert "cluster-class/values.yaml" in text
    assert snapshot(stacks_repo / "rendered") == before


def test_deleted_release_is_refused(stacks_repo: Path) -> None:
    render(stacks_repo)
    shutil.rmtree(stacks_repo / "rendered/releases/docker-alder-1-30-v1")
    with pytest.raises(ImmutableReleaseError, match=r"docker-alder-1-30-v1.*deleted"):
        render_repo(stacks_repo)


def test_failed_render_leaves_tree_untouched(stacks_repo: Path) -> None:
    render(stacks_repo)
    before = snapshot(stacks_repo / "rendered")
    template = stacks_repo / BIRCH / "cluster-class/templates/cluster-class.yaml"
    template.write_text(template.read_text() + "\n{{ .Values.nope.nope }}\n")
    with pytest.raises(RendererError):
        render(stacks_repo)
    assert snapshot(stacks_repo / "rendered") == before
