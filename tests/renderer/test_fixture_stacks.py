"""The team-written fixture stacks (``tests/fixtures/stacks``) render offline, each feature of
the real SCS stacks read the way csctl and CSO read it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from csops.renderer import RenderResult, render_repo, template_values, write
from csops.renderer.addons import addon_charts, render_addon, sample_cluster
from csops.renderer.helm import package_chart

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1] / "fixtures"
FIXTURES = ROOT / "stacks"
FERRUM = "docker-ferrum-1-29-v1"
TILIA = "openstack-tilia-1-30-v1"
LARIX = "docker-larix-1-31-v1"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RenderResult]:
    """The fixture repository rendered offline (no chart cache, every connection refused)."""
    tmp = tmp_path_factory.mktemp("fixtures")
    repo = tmp / "stacks"
    shutil.copytree(FIXTURES, repo, ignore=shutil.ignore_patterns("rendered"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CSOPS_CACHE_DIR", str(tmp / "cache"))
        for key in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            patch.setenv(key, "http://127.0.0.1:9")
        result = render_repo(repo)
    write(result)
    return repo, result


def objects(repo: Path, release: str, cluster: dict[str, Any], **refs: Any) -> dict[str, Any]:
    bundle = repo / "rendered/releases" / release
    new = (bundle / "clusteraddon.yaml").is_file()
    kubernetes = yaml.safe_load((bundle / "metadata.yaml").read_text())["versions"]["kubernetes"]
    found: dict[str, Any] = {}
    for chart, values in addon_charts(bundle, new).values():
        for obj in render_addon(
            chart, kubernetes=kubernetes, values_file=values, cluster=cluster, display="x", **refs
        ):
            found[f"{obj['kind']}/{obj['metadata']['name']}"] = obj
    return found


def test_every_fixture_stack_renders_offline(rendered: tuple[Path, RenderResult]) -> None:
    repo, result = rendered
    assert sorted(result.new_releases) == [FERRUM, LARIX, TILIA]
    classes = repo / "rendered/manifests/cluster/clusterclass.cluster.x-k8s.io"
    assert sorted(p.stem for p in classes.iterdir()) == [FERRUM, LARIX, TILIA]


def test_generation_4_minor_is_resolved_from_versions_yaml(
    rendered: tuple[Path, RenderResult],
) -> None:
    _, result = rendered
    assert result.releases[LARIX].versions.kubernetes == "v1.31.11"


def test_missing_stage_chart_and_unescaped_capi_template_are_warnings(
    rendered: tuple[Path, RenderResult],
) -> None:
    _, result = rendered
    by_file = {(w.file, w.line): w.message for w in result.warnings}
    stage = by_file[("providers/openstack/tilia/clusteraddon.yaml", 16)]
    assert "stage 'dashboard' names no chart" in stage and "HelmChartMissing" in stage
    lint = by_file[("providers/docker/ferrum/cluster-class/templates/cluster-class.yaml", 65)]
    assert "imageRepository" in lint
    cc = yaml.safe_load(
        (
            rendered[0] / f"rendered/manifests/cluster/clusterclass.cluster.x-k8s.io/{FERRUM}.yaml"
        ).read_text()
    )
    assert {p["name"]: p.get("enabledIf") for p in cc["spec"]["patches"]}["imageRepository"] == (
        "true"
    ), "Helm evaluates the unescaped template itself, as in CSO"


def test_unpacked_aliased_subchart_and_define_in_values(
    rendered: tuple[Path, RenderResult],
) -> None:
    repo, _ = rendered
    cluster = sample_cluster(FERRUM, "v1.29.4")
    infra = {"status": {"network": {"id": "net-42"}}}
    found = objects(repo, FERRUM, cluster, infra_cluster=infra)
    stats = found["Deployment/cluster-addon-stats"]
    assert stats["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "--endpoint=https://203.0.113.10:6443",
        "--interval=30s",
    ]
    assert "ConfigMap/cluster-addon-extras" not in found, "off by its condition"
    cluster["spec"]["topology"]["variables"] = [{"name": "extras", "value": True}]
    assert "ConfigMap/cluster-addon-extras" in objects(repo, FERRUM, cluster)


def test_define_in_overwrite_and_the_absent_infra_cluster(
    rendered: tuple[Path, RenderResult],
) -> None:
    repo, _ = rendered
    cluster = sample_cluster(TILIA, "v1.30.5")
    infra = {"status": {"network": {"id": "net-1"}, "externalNetwork": {"id": "ext-2"}}}
    bundle = repo / "rendered/releases" / TILIA
    overwrite = (bundle / "cluster-addon/ccm/overwrite.yaml").read_text()
    assert template_values(overwrite, cluster, display="o", infra_cluster=infra) == {
        "cluster": {"name": "sample"},
        "loadBalancer": {"floatingNetworkID": "ext-2", "network": "net-1"},
    }
    # Without an InfraCluster (the render-time sample), CSO prints <no value>; so does csops.
    assert template_values(overwrite, cluster, display="o") == {
        "cluster": {"name": "sample"},
        "loadBalancer": {"network": "<no value>"},
    }


def test_vendored_archive_with_alias_and_a_range(rendered: tuple[Path, RenderResult]) -> None:
    repo, _ = rendered
    found = objects(repo, LARIX, sample_cluster(LARIX, "v1.31.11"))
    assert found["ConfigMap/cluster-addon-collector"]["data"] == {"message": "collecting"}
    assert found["DaemonSet/kindnet"]["spec"]["template"]["spec"]["containers"][0]["env"]


def test_vendored_archives_are_the_packaged_fixture_source() -> None:
    """The .tgz files in the fixtures are what packaging tests/fixtures/charts gives."""
    packaged = package_chart(ROOT / "charts/extras")
    for archive in (
        FIXTURES / "providers/docker/ferrum/cluster-addon/charts/extras-0.3.0.tgz",
        FIXTURES / "providers/docker/larix/1-31/cluster-addon/stats/charts/extras-0.3.0.tgz",
    ):
        assert archive.read_bytes() == packaged, archive
