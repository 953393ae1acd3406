"""csctl's custom mode: explicit cluster-stack, addon and node-image versions for a stack."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import Result

from tests.renderer.conftest import snapshot

pytestmark = pytest.mark.integration

ALDER = Path("providers/docker/alder/1-29")
FLAGS = (
    "--cluster-stack-version",
    "v2-rc.1",
    "--cluster-addon-version",
    "v7",
    "--node-image-version",
    "v1",
)


def change_alder(repo: Path) -> None:
    values = repo / ALDER / "cluster-class/values.yaml"
    values.write_text(values.read_text() + "# changed\n")


def metadata(repo: Path, release: str) -> dict:
    path = repo / "rendered/releases" / release / "metadata.yaml"
    return yaml.safe_load(path.read_text())["versions"]


@pytest.fixture
def rendered(stacks_repo: Path, csops: Callable[..., Result]) -> Path:
    assert csops("render", stacks_repo).exit_code == 0
    return stacks_repo


def test_flags_cut_a_release_with_the_given_versions(
    rendered: Path, csops: Callable[..., Result]
) -> None:
    change_alder(rendered)
    result = csops("render", rendered, "--mode", "custom", "--stack", "docker-alder-1-29", *FLAGS)
    assert result.exit_code == 0, result.output
    assert "release docker-alder-1-29-v2-rc-1 cut" in result.stdout
    assert metadata(rendered, "docker-alder-1-29-v2-rc-1") == {
        "clusterStack": "v2-rc.1",
        "kubernetes": "v1.29.4",
        "components": {"clusterAddon": "v7", "nodeImage": "v1"},
    }
    bundle = rendered / "rendered/releases/docker-alder-1-29-v2-rc-1"
    assert (bundle / "docker-alder-1-29-cluster-class-v2-rc.1.tgz").is_file()
    assert (bundle / "docker-alder-1-29-cluster-addon-v7.tgz").is_file()
    chart = yaml.safe_load((bundle / "cluster-class/Chart.yaml").read_text())
    assert chart["version"] == "v2-rc.1"
    # Offered, it renders the ClusterClass with the dot form of the version.
    stack = rendered / "clusterstacks/docker-alder-1-29.yaml"
    doc = yaml.safe_load(stack.read_text())
    doc["spec"]["versions"] = ["v1", "v2-rc.1"]
    stack.write_text(yaml.safe_dump(doc))
    assert csops("render", rendered, "--mode", "custom").exit_code == 0
    classes = rendered / "rendered/manifests/cluster/clusterclass.cluster.x-k8s.io"
    assert (classes / "docker-alder-1-29-v2-rc.1.yaml").is_file()


def test_csops_yaml_form(rendered: Path, csops: Callable[..., Result]) -> None:
    change_alder(rendered)
    config = rendered / "csops.yaml"
    config.write_text(
        config.read_text().replace("versionMode: stable", "versionMode: custom")
        + "customVersions:\n  docker-alder-1-29:\n"
        "    clusterStack: v5\n    clusterAddon: v1\n    nodeImage: v3\n"
    )
    result = csops("render", rendered)
    assert result.exit_code == 0, result.output
    assert metadata(rendered, "docker-alder-1-29-v5")["components"] == {
        "clusterAddon": "v1",
        "nodeImage": "v3",
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mode", "custom", *FLAGS[:4]], "--node-image-version is required in custom mode"),
        (["--mode", "custom", *FLAGS[:5], "1.0"], "--node-image-version: '1.0' is not"),
        ([*FLAGS], "need --mode custom"),
        (["--mode", "custom", "--stack", "docker-alder-1-29"], "--stack needs the three"),
    ],
)
def test_usage_errors_exit_2(
    rendered: Path, csops: Callable[..., Result], args: list[str], message: str
) -> None:
    before = snapshot(rendered / "rendered")
    result = csops("render", rendered, *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert snapshot(rendered / "rendered") == before


def test_several_stacks_need_stack(rendered: Path, csops: Callable[..., Result]) -> None:
    result = csops("render", rendered, "--mode", "custom", *FLAGS)
    assert result.exit_code == 1
    assert "--stack is required" in result.stderr
    assert "docker-alder-1-29, docker-alder-1-30, openstack-birch-1-31" in result.stderr


def test_changed_source_without_versions_is_explained(
    rendered: Path, csops: Callable[..., Result]
) -> None:
    change_alder(rendered)
    before = snapshot(rendered / "rendered")
    result = csops("render", rendered, "--mode", "custom")
    assert result.exit_code == 1
    assert f"{ALDER}: custom mode: no versions for docker-alder-1-29" in result.stderr
    assert "--stack docker-alder-1-29 --cluster-stack-version V" in result.stderr
    assert snapshot(rendered / "rendered") == before


def test_existing_release_cannot_be_cut_again(rendered: Path, csops: Callable[..., Result]) -> None:
    change_alder(rendered)
    before = snapshot(rendered / "rendered")
    flags = ("--cluster-stack-version", "v1", "--cluster-addon-version", "v1")
    result = csops(
        "render",
        rendered,
        "--mode",
        "custom",
        "--stack",
        "docker-alder-1-29",
        *flags,
        "--node-image-version",
        "v1",
    )
    assert result.exit_code == 1
    assert "release docker-alder-1-29-v1 exists with other contents or versions" in result.stderr
    assert snapshot(rendered / "rendered") == before
