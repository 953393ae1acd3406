"""Fixtures for the packaging tests: the wheel built from this checkout, a venv it is
installed into outside the checkout, and the example stacks re-homed into a namespace."""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

# The addon fixtures (a workload plane, Clusters with kubeconfig Secrets) for the deploy test.
from tests.addons.conftest import clusters, mgmt, releases, workload_kubeconfig  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parents[2]
KUBECTL = Path(sys.executable).parent / "kubectl"


def run(
    *argv: str | Path, cwd: Path | None = None, timeout: float = 300, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    """Run a command, capture its output as text; never raises on a non-zero exit."""
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [str(a) for a in argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,
    )


def ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """Fail with the command's output unless it exited 0."""
    assert done.returncode == 0, (
        f"{' '.join(map(str, done.args))} exited {done.returncode}\n"
        f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
    )
    return done


def clean_checkout(target: Path) -> Path:
    """The files git would check out (tracked, plus new ones not ignored), symlinks kept."""
    listed = ok(
        run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=REPO_ROOT)
    ).stdout
    for name in filter(None, listed.split("\0")):
        source = REPO_ROOT / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the work tree, not yet in the index
        dest = target / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest, follow_symlinks=False)
    return target


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built (by pip, as a user would) from a clean copy of this checkout."""
    work = tmp_path_factory.mktemp("wheel")
    source = clean_checkout(work / "src")
    dist = work / "dist"
    ok(run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, source))
    (built,) = dist.glob("csops-*.whl")
    return built


@dataclass(frozen=True)
class Installed:
    """A venv outside the checkout with the wheel installed; commands run from ``home``."""

    venv: Path
    home: Path

    @property
    def csops(self) -> Path:
        return self.venv / "bin" / "csops"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def env(self, **extra: str) -> dict[str, str]:
        """A minimal environment: no PYTHONPATH, no dev venv on PATH, a private HOME."""
        return {
            "PATH": f"{self.venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "GIT_CONFIG_GLOBAL": str(self.home / "gitconfig"),
            **extra,
        }

    def __call__(
        self, *args: str | Path, cwd: Path | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return run(self.csops, *args, cwd=cwd or self.home, env=self.env(**env))


@pytest.fixture(scope="session")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """``pip install`` of the wheel into a fresh venv (dependencies from the package index)."""
    root = tmp_path_factory.mktemp("installed")
    target = root / "venv"
    venv.EnvBuilder(with_pip=True).create(target)
    home = root / "home"
    home.mkdir()
    (home / "gitconfig").write_text("[user]\n\tname = t\n\temail = t@example.org\n")
    pip = [target / "bin" / "python", "-m", "pip", "install", "-q", "--no-compile"]
    ok(run(*pip, wheel, timeout=900))
    return Installed(target, home)


def kustomize() -> list[dict[str, Any]]:
    """The objects of the kustomize base, as ``kubectl kustomize`` builds them."""
    built = ok(run(KUBECTL, "kustomize", REPO_ROOT / "deploy" / "kubernetes")).stdout
    return [d for d in yaml.safe_load_all(built) if d]


def granted(objects: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(apiGroup, resource, verb) of every rule of the ClusterRole and Role."""
    out = set()
    for obj in objects:
        if obj["kind"] not in ("ClusterRole", "Role"):
            continue
        for rule in obj["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    out |= {(group, resource, verb) for verb in rule["verbs"]}
    return out


def cluster_stacks(kubeconfig: Path, namespace: str) -> dict[str, dict[str, Any]]:
    """The ClusterStacks of ``namespace``: name → status (empty when none is set yet)."""
    from csops.syncer.kube import Kube

    kube = Kube.from_kubeconfig(kubeconfig)
    try:
        resource = kube.resource("clusterstack.x-k8s.io/v1alpha1", "ClusterStack")
        items = kube.list(resource, namespace=namespace).items
    finally:
        kube.close()
    return {o["metadata"]["name"]: o.get("status") or {} for o in items}
