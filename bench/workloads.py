"""Synthetic stacks repositories for the render benchmarks.

A workload is a git repository laid out like ``stacks/``: ``N`` stack sources copied from the
example stack ``stacks/providers/docker/alder/1-29`` (provider, stack name and Kubernetes minor
varied), each with ``R`` releases cut the way a team cuts them: render, change the source (a
comment appended to a class template), render again. The ClusterStacks list every version,
and the rendered tree and the sources are committed, as in a repository after CI ran.

Generating takes as long as ``R`` full first renders, so a workload is built once per harness
run and copied (:func:`clone`) for each measured run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from csops import renderer

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = REPO_ROOT / "stacks" / "providers" / "docker" / "alder" / "1-29"
TEMPLATE_PREFIX = "docker-alder-1-29"
TEMPLATE_K8S = "v1.29.4"
PROVIDERS = ("docker", "capd", "kind")
MINORS = ((29, "v1.29.4"), (30, "v1.30.2"), (31, "v1.31.6"))
NAMESPACE = "cluster"
OUTPUT = "rendered"
CHANGED_TEMPLATE = Path("cluster-class") / "templates" / "cluster-class.yaml"

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@localhost",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@localhost",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
}


@dataclass(frozen=True)
class StackSpec:
    """One synthetic stack source: provider, stack name and Kubernetes version."""

    provider: str
    name: str
    minor: int
    kubernetes: str

    @property
    def prefix(self) -> str:
        """``P-N-1-m``: the Helm release name of its class chart and the release prefix."""
        return f"{self.provider}-{self.name}-1-{self.minor}"

    @property
    def directory(self) -> Path:
        """Where the source lives, relative to the repository root."""
        return Path("providers") / self.provider / self.name / f"1-{self.minor}"

    @property
    def cluster_stack_file(self) -> Path:
        """Its ClusterStack, relative to the repository root."""
        return Path("clusterstacks") / f"{self.prefix}.yaml"

    def release(self, version: int) -> str:
        """Release (bundle) name of version ``v<version>``."""
        return f"{self.prefix}-v{version}"


@dataclass
class Workload:
    """A generated stacks repository and what it holds."""

    root: Path
    stacks: list[StackSpec]
    releases: int
    generate_seconds: float = 0.0
    objects: int = 0
    files: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def output_dir(self) -> Path:
        """The rendered tree."""
        return self.root / OUTPUT

    def class_charts(self) -> list[tuple[StackSpec, str, Path]]:
        """Every offered release's class chart in the rendered tree: (stack, release, dir)."""
        return [
            (
                spec,
                spec.release(v),
                self.output_dir / "releases" / spec.release(v) / "cluster-class",
            )
            for spec in self.stacks
            for v in range(1, self.releases + 1)
        ]


def specs(count: int) -> list[StackSpec]:
    """``count`` distinct stacks: providers and minors cycle, names are ``s000``, ``s001``…"""
    out = []
    for i in range(count):
        minor, k8s = MINORS[i % len(MINORS)]
        out.append(StackSpec(PROVIDERS[i % len(PROVIDERS)], f"s{i:03d}", minor, k8s))
    return out


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args],
        cwd=root,
        env={**_GIT_ENV, "PATH": "/usr/local/bin:/usr/bin:/bin"},
        check=True,
        capture_output=True,
    )


def commit(root: Path, message: str) -> None:
    """Commit everything in the workload repository."""
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "--allow-empty", "-m", message)


def write_stack(root: Path, spec: StackSpec) -> None:
    """Copy the template stack to ``spec.directory`` with its identity substituted."""
    target = root / spec.directory
    shutil.copytree(TEMPLATE, target)
    for path in sorted(p for p in target.rglob("*") if p.is_file()):
        text = path.read_text(encoding="utf-8")
        new = text.replace(TEMPLATE_PREFIX, spec.prefix).replace(TEMPLATE_K8S, spec.kubernetes)
        if path.name == "csctl.yaml":
            new = new.replace("clusterStackName: alder", f"clusterStackName: {spec.name}")
            new = new.replace("type: docker", f"type: {spec.provider}")
        if new != text:
            path.write_text(new, encoding="utf-8")


def change_stack(root: Path, spec: StackSpec, tag: str) -> None:
    """Change a stack source so that its next render cuts a new release."""
    path = root / spec.directory / CHANGED_TEMPLATE
    with path.open("a", encoding="utf-8") as fh:
        fh.write(f"# bench change {tag}\n")


def write_cluster_stack(
    root: Path, spec: StackSpec, versions: int, namespace: str = NAMESPACE
) -> None:
    """Write ``spec``'s ClusterStack offering ``v1`` … ``v<versions>``."""
    listed = "".join(f"    - v{v}\n" for v in range(1, versions + 1))
    text = (
        "apiVersion: clusterstack.x-k8s.io/v1alpha1\n"
        "kind: ClusterStack\n"
        "metadata:\n"
        f"  name: {spec.prefix}\n"
        f"  namespace: {namespace}\n"
        "spec:\n"
        f"  provider: {spec.provider}\n"
        f"  name: {spec.name}\n"
        f'  kubernetesVersion: "1.{spec.minor}"\n'
        "  channel: stable\n"
        "  autoSubscribe: false\n"
        "  noProvider: true\n"
        "  versions:\n"
        f"{listed}"
    )
    path = root / spec.cluster_stack_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _render(root: Path) -> renderer.RenderResult:
    result = renderer.render_repo(root)
    renderer.write(result)
    return result


def generate(root: Path, stacks: int, releases: int) -> Workload:
    """Build a workload of ``stacks`` stacks with ``releases`` releases each at ``root``."""
    import time

    start = time.perf_counter()
    root.mkdir(parents=True, exist_ok=True)
    (root / "csops.yaml").write_text(
        f"roots:\n  - providers\noutput: {OUTPUT}\n"
        f"defaultNamespace: {NAMESPACE}\nversionMode: stable\n",
        encoding="utf-8",
    )
    _git(root, "init", "-q", "-b", "main")
    spec_list = specs(stacks)
    for spec in spec_list:
        write_stack(root, spec)
        write_cluster_stack(root, spec, 1)
    commit(root, "stacks")
    _render(root)
    commit(root, "render v1")
    for version in range(2, releases + 1):
        for spec in spec_list:
            change_stack(root, spec, f"v{version}")
            write_cluster_stack(root, spec, version)
        commit(root, f"stacks v{version}")
        result = _render(root)
        expected = {spec.release(version) for spec in spec_list}
        if set(result.new_releases) != expected:
            raise RuntimeError(
                f"workload: expected new releases {sorted(expected)[:3]}…, "
                f"got {sorted(result.new_releases)[:3]}…"
            )
        commit(root, f"render v{version}")
    final = renderer.render_repo(root)
    if final.diff:
        raise RuntimeError("workload: a re-render of the generated repository is not a no-op")
    workload = Workload(root, spec_list, releases)
    workload.files = len(final.files)
    workload.objects = sum(1 for p in final.files if p.startswith("manifests/"))
    workload.generate_seconds = time.perf_counter() - start
    return workload


def _copy_git_file(src: str, dst: str) -> object:
    """Git objects never change in place: hard-link them, copy the rest of ``.git``."""
    if f"{os.sep}objects{os.sep}" in src:
        try:
            os.link(src, dst)
        except OSError:
            return shutil.copy2(src, dst)
        return dst
    return shutil.copy2(src, dst)


def clone(workload: Workload, dest: Path) -> Workload:
    """A copy of the workload (with its git history) at ``dest``, for one destructive run.

    The work tree is copied, git's objects are hard-linked, and the index is refreshed so
    that the first ``git status`` of the measured render does not re-hash every file (a
    fresh CI checkout has a fresh index too).
    """
    shutil.copytree(workload.root, dest, symlinks=True, ignore=shutil.ignore_patterns(".git"))
    shutil.copytree(workload.root / ".git", dest / ".git", copy_function=_copy_git_file)
    _git(dest, "update-index", "-q", "--refresh")
    return Workload(
        dest,
        workload.stacks,
        workload.releases,
        workload.generate_seconds,
        workload.objects,
        workload.files,
    )
