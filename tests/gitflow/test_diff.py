"""``csops diff``: object-level diff between a base ref and a fresh render of the work tree."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from csops.renderer import diffreport, objectdiff
from tests.gitflow.conftest import bump, git, offer

pytestmark = pytest.mark.integration

Csops = Callable[..., Result]
ALDER_29 = Path("providers/docker/alder/1-29")
CLASS = "ClusterClass.cluster.x-k8s.io cluster/docker-alder-1-29-v2"


def _bumped(csops: Csops, work: Path) -> None:
    assert csops("render", work, "--commit").exit_code == 0
    bump(work / ALDER_29, "v1.29.4", "v1.29.5")
    offer(work, "docker-alder-1-29", "v2")


def test_diff_across_a_release_bump(csops: Csops, work: Path) -> None:
    _bumped(csops, work)
    result = csops("diff", work, "--base", "HEAD")  # not rendered yet: diff renders afresh
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("1 release added, 8 objects added, 2 changed, 0 removed\n")
    assert "release added: docker-alder-1-29-v2" in out
    assert f"+ {CLASS}" in out
    assert "+ ClusterStackRelease.clusterstack.x-k8s.io cluster/docker-alder-1-29-v2" in out
    assert "~ ClusterStack.clusterstack.x-k8s.io cluster/docker-alder-1-29" in out
    assert "~ ClusterClassTable.csops.io csops-cluster-classes" in out  # the admission table
    assert "cluster: docker-alder-1-29-v1 -> docker-alder-1-29-v2 (version upgrade)" in out
    diff = out[out.index("--- a/manifests/cluster/clusterstack.") :]
    assert "+  - v2\n" in diff and "\x1b[" not in out  # plain when not a terminal
    assert not (work / "rendered/releases/docker-alder-1-29-v2").exists()  # nothing written

    data = json.loads(csops("diff", work, "--base", "HEAD", "-o", "json").stdout)
    assert data["releases"]["added"] == ["docker-alder-1-29-v2"]
    assert data["summary"] == {
        "added": 8,
        "changed": 2,
        "removed": 0,
        "stacksChanged": ["docker-alder-1-29"],
    }
    assert data["upgrades"] == [
        {
            "namespace": "cluster",
            "from": "docker-alder-1-29-v1",
            "to": "docker-alder-1-29-v2",
            "kind": "version",
        }
    ]
    kinds = {(o["kind"], o["action"]) for o in data["objects"]}
    assert ("ClusterClass", "added") in kinds and ("ClusterStack", "changed") in kinds

    markdown = csops("diff", work, "--base", "HEAD", "-o", "markdown").stdout
    assert markdown.startswith("<!-- csops-diff -->\n### csops diff: `HEAD` → this change")
    assert "| `docker-alder-1-29-v2` | added |" in markdown
    assert "| cluster | `docker-alder-1-29-v1` | `docker-alder-1-29-v2` | version upgrade |" in (
        markdown
    )
    assert "```diff\n--- a/manifests/cluster/clusterstack." in markdown

    assert csops("diff", work, "--base", "HEAD", "--exit-code").exit_code == 1


def test_diff_without_changes_and_default_base(csops: Csops, work: Path) -> None:
    assert csops("render", work, "--commit", "--push").exit_code == 0
    git(work, "remote", "set-head", "origin", "main")
    result = csops("diff", work, "--exit-code")  # base: origin/HEAD
    assert result.exit_code == 0, result.output
    assert result.stdout == "No changes to the rendered tree.\n"


def test_diff_against_a_rendered_branch(csops: Csops, work: Path) -> None:
    """Hydrated mode: the work tree has no rendered tree; versions continue from the branch."""
    assert csops("render", work, "--branch", "rendered", "--branch-path", ".").exit_code == 0
    bump(work / ALDER_29, "v1.29.4", "v1.29.5")
    offer(work, "docker-alder-1-29", "v2")
    git(work, "commit", "-q", "-am", "alder 1.29.5")
    result = csops("diff", work, "--base", "rendered", "--base-path", ".", "-o", "json")
    data = json.loads(result.stdout)
    assert data["releases"]["added"] == ["docker-alder-1-29-v2"]
    assert data["upgrades"][0]["to"] == "docker-alder-1-29-v2"
    assert not (work / "rendered").exists()


def test_upgrades_to_the_next_minor_and_not_backwards() -> None:
    def cc(name: str) -> bytes:
        return (
            "apiVersion: cluster.x-k8s.io/v1beta1\nkind: ClusterClass\n"
            f"metadata:\n  name: {name}\n  namespace: ns\n"
        ).encode()

    base = {
        "manifests/ns/clusterclass.cluster.x-k8s.io/docker-a-1-29-v3.yaml": cc("docker-a-1-29-v3"),
        "manifests/ns/clusterclass.cluster.x-k8s.io/docker-b-1-29-v1.yaml": cc("docker-b-1-29-v1"),
    }
    new = {
        **base,
        "manifests/ns/clusterclass.cluster.x-k8s.io/docker-a-1-30-v1.yaml": cc("docker-a-1-30-v1"),
        "manifests/ns/clusterclass.cluster.x-k8s.io/docker-a-1-29-v2.yaml": cc("docker-a-1-29-v2"),
        "manifests/ns/clusterclass.cluster.x-k8s.io/docker-a-1-31-v1.yaml": cc("docker-a-1-31-v1"),
    }
    changes = objectdiff.compare_trees(base, new)
    assert [(u.from_class, u.to_class, u.kind) for u in changes.upgrades] == [
        ("docker-a-1-29-v3", "docker-a-1-30-v1", "kubernetes")
    ]


def test_markdown_stays_under_the_comment_limit() -> None:
    big = "\n".join(f"  key{i}: value" for i in range(400))
    base, new = {}, {}
    for i in range(60):
        path = f"manifests/ns/configmap/cm{i}.yaml"
        head = (
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm{i}\n  namespace: ns\ndata:\n"
        )
        base[path] = (head + big + "\n").encode()
        new[path] = (head + big.replace("value", "other") + "\n").encode()
    text = diffreport.to_markdown(objectdiff.compare_trees(base, new))
    assert len(text) < 65_536
    assert "left out to stay under GitHub's comment size limit" in text
