"""The syncer reads nothing outside its source: links out of a local directory, a linked
manifests directory, links committed to git, and duplicate keys in a manifest."""

from __future__ import annotations

from pathlib import Path

import pytest

from csops.syncer.controller import sync_once
from csops.syncer.errors import FetchError, RevisionError
from csops.syncer.kube import Kube
from csops.syncer.settings import Settings
from csops.syncer.source import open_source
from tests.syncer.conftest import git

pytestmark = pytest.mark.integration


def configmap(name: str, namespace: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {namespace}\n"


def local_repo(tmp_path: Path, namespace: str) -> Path:
    repo = tmp_path / "repo"
    manifests = repo / "rendered" / "manifests"
    manifests.mkdir(parents=True)
    (manifests / "inside.yaml").write_text(configmap("inside", namespace))
    (tmp_path / "outside.yaml").write_text(configmap("stolen", namespace))
    return repo


def settings(repo: Path, kubeconfig: Path, namespace: str, tmp_path: Path) -> Settings:
    return Settings(
        repo=str(repo),
        kubeconfig=kubeconfig,
        name=f"confined-{namespace}",
        inventory_namespace=namespace,
        cache_dir=tmp_path / "cache",
        addons=None,
    )


def exists(kube: Kube, namespace: str, name: str) -> bool:
    return kube.get_or_none(kube.resource("v1", "ConfigMap"), namespace, name) is not None


def test_a_link_out_of_the_local_source_stops_the_pass(
    kube: Kube, namespace: str, csops_kubeconfig: Path, tmp_path: Path
) -> None:
    repo = local_repo(tmp_path, namespace)
    (repo / "rendered" / "manifests" / "link.yaml").symlink_to(tmp_path / "outside.yaml")
    config = settings(repo, csops_kubeconfig, namespace, tmp_path)
    with pytest.raises(RevisionError, match=r"link\.yaml: is a symbolic link to .*outside"):
        sync_once(config, kube)
    assert not exists(kube, namespace, "stolen") and not exists(kube, namespace, "inside")
    # a link that stays inside the source is followed
    (repo / "rendered" / "manifests" / "link.yaml").unlink()
    (repo / "shared.yaml").write_text(configmap("shared", namespace))
    (repo / "rendered" / "manifests" / "link.yaml").symlink_to(repo / "shared.yaml")
    assert sync_once(config, kube).ok
    assert exists(kube, namespace, "inside") and exists(kube, namespace, "shared")


def test_a_linked_manifests_directory_outside_the_source_is_refused(
    kube: Kube, namespace: str, csops_kubeconfig: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "cm.yaml").write_text(configmap("stolen", namespace))
    repo = tmp_path / "repo"
    (repo / "rendered").mkdir(parents=True)
    (repo / "rendered" / "manifests").symlink_to(elsewhere)
    config = settings(repo, csops_kubeconfig, namespace, tmp_path)
    with pytest.raises(RevisionError, match=r"rendered/manifests: is a symbolic link"):
        sync_once(config, kube)
    assert not exists(kube, namespace, "stolen")


def test_a_link_in_the_releases_of_a_local_source_is_refused(
    kube: Kube, namespace: str, csops_kubeconfig: Path, tmp_path: Path
) -> None:
    repo = local_repo(tmp_path, namespace)
    releases = repo / "rendered" / "releases" / "docker-alder-1-29-v1"
    releases.mkdir(parents=True)
    (releases / "cluster-addon").symlink_to("/etc")
    config = settings(repo, csops_kubeconfig, namespace, tmp_path)
    with pytest.raises(RevisionError, match=r"cluster-addon: is a symbolic link to /etc"):
        sync_once(config, kube)


def test_a_symbolic_link_committed_to_git_is_not_synced(tmp_path: Path, namespace: str) -> None:
    work = local_repo(tmp_path, namespace)
    (work / "rendered" / "manifests" / "link.yaml").symlink_to(tmp_path / "outside.yaml")
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "a link")
    source = open_source(str(work), "main", "rendered/manifests", tmp_path / "cache")
    with pytest.raises(FetchError, match=r"link\.yaml: is a symbolic link"):
        source.fetch()


def test_duplicate_keys_in_a_manifest_stop_the_pass(
    kube: Kube, namespace: str, csops_kubeconfig: Path, tmp_path: Path
) -> None:
    repo = local_repo(tmp_path, namespace)
    doubled = configmap("first", namespace) + "  name: second\n"
    (repo / "rendered" / "manifests" / "doubled.yaml").write_text(doubled)
    config = settings(repo, csops_kubeconfig, namespace, tmp_path)
    with pytest.raises(RevisionError, match=r"doubled\.yaml:6: .*duplicate key 'name'"):
        sync_once(config, kube)
    assert not exists(kube, namespace, "first") and not exists(kube, namespace, "second")
