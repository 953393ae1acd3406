"""Stack layouts, addon checks and chart dependencies fetched from a real chart repository."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import Result
from helm_python import package
from helm_python.registry import repo_index_generate

from csops.renderer import render_repo, write
from csops.renderer.errors import RendererError

pytestmark = pytest.mark.integration

ALDER = Path("providers/docker/alder/1-29")
METRICS = Path("providers/openstack/birch/cluster-addon/metrics-server")


@pytest.fixture
def chart_repository(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A Helm chart repository served over HTTP on loopback, with one chart ``minimetrics``."""
    served = tmp_path / "chart-repo"
    served.mkdir()
    source = tmp_path / "chart-src" / "minimetrics"
    (source / "templates").mkdir(parents=True)
    (source / "Chart.yaml").write_text("apiVersion: v2\nname: minimetrics\nversion: 0.1.0\n")
    (source / "templates" / "sa.yaml").write_text(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {{ .Release.Name }}-fetched\n"
    )
    package(source, destination=served)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    repo_index_generate(served, base_url=url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url, served
    finally:
        server.shutdown()


def unvendor(repo: Path, url: str) -> None:
    """Make metrics-server declare its dependency on the served repository, without charts/."""
    chart_dir = repo / METRICS
    shutil.rmtree(chart_dir / "charts")
    (chart_dir / "Chart.lock").unlink()
    chart = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    for dep in chart["dependencies"]:
        dep["repository"] = url
    (chart_dir / "Chart.yaml").write_text(yaml.safe_dump(chart))


def test_declared_dependency_is_fetched_cached_and_bundled(
    stacks_repo: Path,
    chart_repository: tuple[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("CSOPS_CACHE_DIR", str(tmp_path / "cache"))
    url, served = chart_repository
    unvendor(stacks_repo, url)
    result = render_repo(stacks_repo)
    write(result)
    bundle = stacks_repo / "rendered/releases/openstack-birch-1-31-v1/cluster-addon/metrics-server"
    assert (bundle / "charts/minimetrics-0.1.0.tgz").is_file()
    assert not (stacks_repo / METRICS / "charts").exists(), "the source tree is never modified"
    assert list((tmp_path / "cache" / "charts").rglob("minimetrics-0.1.0.tgz"))
    # Offline afterwards: the cache serves the dependency, and a re-render is a no-op.
    shutil.rmtree(served)
    again = render_repo(stacks_repo, full=True)
    assert not again.diff


def test_unreachable_dependency_names_the_chart(
    stacks_repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    csops: Callable[..., Result],
) -> None:
    unvendor(stacks_repo, "http://127.0.0.1:9")
    result = csops("render", stacks_repo)
    assert result.exit_code == 1
    assert f"{METRICS}/Chart.yaml" in result.stderr
    assert (
        "needs network: minimetrics 0.1.0 from http://127.0.0.1:9 is not vendored in charts/"
        in result.stderr
    ), result.stderr
    assert "vendor it" in result.stderr
    assert not (stacks_repo / "rendered").exists()


def test_generation_4_per_minor_directory(stacks_repo: Path) -> None:
    source = stacks_repo / ALDER
    (source / "csctl.yaml").unlink()
    (source / "stack.yaml").write_text(
        "provider: docker\nclusterStackName: alder\nkubernetesVersion: 1.29.4\n"
    )
    result = render_repo(stacks_repo)
    assert "docker-alder-1-29-v1" in result.new_releases


def test_generation_4_minor_only_version_is_explained(stacks_repo: Path) -> None:
    source = stacks_repo / ALDER
    (source / "stack.yaml").write_text(
        "provider: docker\nclusterStackName: alder\nkubernetesVersion: '1.29'\n"
    )
    with pytest.raises(RendererError, match=r"stack.yaml:3: kubernetesVersion: .*pin it"):
        render_repo(stacks_repo)


def test_addon_failing_on_the_sample_cluster_warns(stacks_repo: Path) -> None:
    """A values file that cannot evaluate on the sample Cluster is a warning with its line."""
    overwrite = stacks_repo / "providers/openstack/birch/cluster-addon/ccm/overwrite.yaml"
    lines = overwrite.read_text().count("\n")
    overwrite.write_text(overwrite.read_text() + "{{ .Cluster.metadata.name.first }}\n")
    result = render_repo(stacks_repo)
    assert "openstack-birch-1-31-v1" in result.new_releases
    found = [w for w in result.warnings if w.file.endswith("cluster-addon/ccm/overwrite.yaml")]
    assert len(found) == 1, result.warnings
    assert found[0].line == lines + 1
    assert "could not be checked against a sample Cluster" in found[0].message
    assert "sample Cluster only" in found[0].hint


def test_old_convention_addon_chart_name_is_checked(stacks_repo: Path) -> None:
    chart = stacks_repo / ALDER / "cluster-addon/Chart.yaml"
    chart.write_text(chart.read_text().replace("docker-alder-1-29-cluster-addon", "addons"))
    with pytest.raises(RendererError, match="must be 'docker-alder-1-29-cluster-addon'"):
        render_repo(stacks_repo)


def test_unescaped_capi_template_is_warned_about(stacks_repo: Path) -> None:
    template = stacks_repo / ALDER / "cluster-class/templates/cluster-class.yaml"
    text = template.read_text()
    escaped = "enabledIf: {{ `'{{ ne .imageRepository \"\" }}'` }}"
    assert escaped in text
    template.write_text(text.replace(escaped, "enabledIf: '{{ ne .imageRepository \"\" }}'"))
    result = render_repo(stacks_repo)
    messages = [str(w) for w in result.warnings]
    assert any(
        "cluster-class/templates/cluster-class.yaml:" in m and "imageRepository" in m
        for m in messages
    ), messages


def test_ls_and_hash_outputs(stacks_repo: Path, csops: Callable[..., Result]) -> None:
    listed = csops("ls", stacks_repo, "-o", "json")
    assert listed.exit_code == 0
    rows = yaml.safe_load(listed.stdout)
    assert {r["clusterClass"] for r in rows} == {
        "docker-alder-1-29-v1",
        "docker-alder-1-30-v1",
        "openstack-birch-1-31-v1",
    }
    hashed = csops("hash", stacks_repo / ALDER, "-o", "yaml")
    data = yaml.safe_load(hashed.stdout)
    assert data["version"] == f"v0-sha.{data['hash'][:7]}"
    assert data["h1"].startswith("h1:")
    assert csops("--help").exit_code == 0
    assert "render" in csops("--help").stdout


def test_stack_level_orc_image_lands_in_the_release_manifests(stacks_repo: Path) -> None:
    source = stacks_repo / "providers/openstack/birch"
    (source / "image.yaml").write_text(
        "apiVersion: openstack.k-orc.cloud/v1alpha1\nkind: Image\n"
        "metadata:\n  name: ubuntu-capi-image-extra\nspec:\n  managementPolicy: managed\n"
    )
    write(render_repo(stacks_repo))
    bundle = stacks_repo / "rendered/releases/openstack-birch-1-31-v1"
    assert (bundle / "image.yaml").is_file()
    image = yaml.safe_load(
        (
            stacks_repo
            / "rendered/manifests/cluster/image.openstack.k-orc.cloud/ubuntu-capi-image-extra.yaml"
        ).read_text()
    )
    assert image["metadata"]["namespace"] == "cluster"
    assert image["metadata"]["annotations"]["csops.io/releases"] == "openstack-birch-1-31-v1"


def test_out_of_sync_chart_lock_is_ignored_as_cso_does(
    stacks_repo: Path,
    chart_repository: tuple[str, Path],
    csops: Callable[..., Result],
) -> None:
    """A lock that disagrees with Chart.yaml: the absent dependency is fetched as Chart.yaml
    declares it (``helm template --dependency-update``), with a warning naming the lock."""
    url, _ = chart_repository
    chart_dir = stacks_repo / METRICS
    shutil.rmtree(chart_dir / "charts")
    chart = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    for dep in chart["dependencies"]:
        dep["repository"] = url
    (chart_dir / "Chart.yaml").write_text(yaml.safe_dump(chart))
    result = csops("render", stacks_repo)
    assert result.exit_code == 0, result.output
    assert f"{METRICS}/Chart.lock" in result.stderr
    assert "out of sync with Chart.yaml" in result.stderr, result.stderr
    bundle = stacks_repo / "rendered/releases/openstack-birch-1-31-v1/cluster-addon/metrics-server"
    assert (bundle / "charts/minimetrics-0.1.0.tgz").is_file()
