"""Fixtures for syncer tests: a rendered copy of the example stacks in a bare git remote."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from csops.controlplane import ControlPlane
from csops.renderer import render_repo, write
from csops.syncer.kube import Kube
from csops.syncer.settings import Settings
from tests.examples import rehome_stacks

MANIFESTS = "rendered/manifests"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@dataclass
class StacksRepo:
    """A work tree with the example stacks rendered for one namespace, pushed to a bare remote."""

    work: Path
    remote: Path
    namespace: str

    @property
    def url(self) -> str:
        return self.remote.as_uri()

    @property
    def manifests(self) -> Path:
        return self.work / MANIFESTS

    def commit(self, message: str, *, force: bool = False) -> str:
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "--allow-empty", "-m", message)
        git(self.work, "push", "-q", *(["--force"] if force else []), "origin", "HEAD:main")
        return git(self.work, "rev-parse", "HEAD")

    def render(self) -> None:
        write(render_repo(self.work))

    def drop_nearly_everything(self) -> None:
        """Commit manifests that keep only the CRDs, the Namespaces and the ClusterStacks: a
        pass would prune far more than the share limit allows."""
        keep = self.manifests / self.namespace / "clusterstack.clusterstack.x-k8s.io"
        namespaces = self.manifests / "cluster-scoped" / "namespace"
        for path in self.manifests.rglob("*.yaml"):
            if path.parent not in (keep, namespaces) and "crds" not in path.parts:
                path.unlink()
        self.commit("drop nearly everything")


def rendered_stacks(target: Path, namespace: str) -> Path:
    write(render_repo(rehome_stacks(target, namespace)))
    return target


@pytest.fixture
def stacks_repo(tmp_path: Path, namespace: str) -> StacksRepo:
    work = rendered_stacks(tmp_path / "work", namespace)
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    git(work, "init", "-q", "-b", "main")
    git(work, "remote", "add", "origin", remote.as_uri())
    repo = StacksRepo(work, remote, namespace)
    repo.commit("example stacks")
    return repo


@pytest.fixture
def other_namespace(kube: Kube) -> Iterator[str]:
    """A second fresh namespace, for users' objects apart from the synced stacks."""
    name = f"t-users-{secrets.token_hex(3)}"
    res = kube.resource("v1", "Namespace")
    kube.create(res, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    kube.delete(res, None, name)


@pytest.fixture(scope="session")
def csops_kubeconfig(control_plane: ControlPlane) -> Path:
    """A kubeconfig whose requests the audit log attributes to user ``csops``."""
    return control_plane.kubeconfig_for("csops")


@pytest.fixture
def kube(csops_kubeconfig: Path, capi_crds: list[str]) -> Iterator[Kube]:
    client = Kube.from_kubeconfig(csops_kubeconfig)
    yield client
    client.close()


@pytest.fixture
def sync_config(stacks_repo: StacksRepo, csops_kubeconfig: Path, tmp_path: Path) -> Settings:
    return Settings(
        repo=stacks_repo.url,
        branch="main",
        kubeconfig=csops_kubeconfig,
        name=f"csops-{stacks_repo.namespace}",
        inventory_namespace=stacks_repo.namespace,
        cache_dir=tmp_path / "cache",
        interval=30.0,
    )
