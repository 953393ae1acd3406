"""Chart dependencies resolved as Helm resolves them: vendored charts render offline, only
what is really absent is fetched, and an absent one without network says so."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from helm_python import package
from helm_python.registry import repo_index_generate

from csops.renderer import RendererError, import_releases, render_repo, write
from csops.renderer.addons import render_addon, sample_cluster
from csops.renderer.helm import tar_directory

pytestmark = pytest.mark.integration

ALDER = Path("providers/docker/alder/1-29")
METRICS = Path("providers/openstack/birch/cluster-addon/metrics-server")
OFFLINE = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An empty chart cache and a proxy that refuses every connection (no network)."""
    monkeypatch.setenv("CSOPS_CACHE_DIR", str(tmp_path / "cache"))
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(key, OFFLINE)
    for key in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(key, raising=False)


def chart(directory: Path, name: str, version: str, kind: str = "ConfigMap") -> Path:
    """A small chart whose one template names the release and the chart."""
    (directory / "templates").mkdir(parents=True)
    (directory / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: {version}\n")
    (directory / "values.yaml").write_text("enabled: true\n")
    (directory / "templates" / "object.yaml").write_text(
        f"apiVersion: v1\nkind: {kind}\nmetadata:\n"
        "  name: {{ .Release.Name }}-{{ .Chart.Name }}-{{ .Chart.Version }}\n"
    )
    return directory


def declare(chart_dir: Path, *deps: dict[str, str], lock: bool = True) -> None:
    """Add ``deps`` to Chart.yaml (and, with ``lock``, write a Chart.lock pinning them)."""
    path = chart_dir / "Chart.yaml"
    text = path.read_text()
    data = yaml.safe_load(text.replace("<< .ClusterAddonVersion >>", "v1"))
    data["dependencies"] = list(deps)
    body = yaml.safe_dump(data, sort_keys=False).replace(
        "version: v1\n", "version: << .ClusterAddonVersion >>\n", 1
    )
    path.write_text(body)
    if lock:
        pins = [
            {"name": d["name"], "repository": d["repository"], "version": d["version"]}
            for d in deps
        ]
        (chart_dir / "Chart.lock").write_text(
            yaml.safe_dump(
                {"dependencies": pins, "digest": "sha256:0", "generated": "2025-01-01T00:00:00Z"}
            )
        )


def objects_of(release_dir: Path, kubernetes: str = "v1.29.4") -> set[str]:
    """Names of what the release's old-convention addon chart renders for the sample Cluster."""
    rendered = render_addon(
        release_dir / "cluster-addon",
        kubernetes=kubernetes,
        values_file=release_dir / "cluster-addon-values.yaml",
        cluster=sample_cluster("docker-alder-1-29-v1", kubernetes),
        display="addon",
    )
    return {o["metadata"]["name"] for o in rendered}


def test_unpacked_subchart_with_alias_condition_and_v_version_renders_offline(
    stacks_repo: Path,
) -> None:
    """csctl's own docker/ferrol keeps metrics-server unpacked in charts/: Helm renders it."""
    addon = stacks_repo / ALDER / "cluster-addon"
    chart(addon / "charts" / "ministats", "ministats", "1.2.0")
    chart(addon / "charts" / "extras", "extras", "0.3.0")
    declare(
        addon,
        {
            "name": "ministats",
            "version": "v1.2.0",
            "repository": "https://charts.example.invalid",
            "alias": "stats",
        },
        {
            "name": "extras",
            "version": "0.3.0",
            "repository": "https://charts.example.invalid",
            "condition": "extras.enabled",
        },
    )
    values = addon / "values.yaml"
    values.write_text(values.read_text() + "extras:\n  enabled: false\n")
    result = render_repo(stacks_repo)
    write(result)
    release = stacks_repo / "rendered/releases/docker-alder-1-29-v1"
    assert (release / "cluster-addon/charts/ministats/Chart.yaml").is_file()
    names = objects_of(release)
    assert "cluster-addon-stats-1.2.0" in names, "rendered under its alias, as Helm does"
    assert not any("extras" in n for n in names), "a dependency disabled by its condition"
    assert not [w for w in result.warnings if "charts/ holds" in w.message], result.warnings


def test_vendored_archive_of_another_version_is_used_with_a_warning(stacks_repo: Path) -> None:
    addon = stacks_repo / ALDER / "cluster-addon"
    source = chart(stacks_repo.parent / "src" / "ministats", "ministats", "1.1.0")
    (addon / "charts").mkdir()
    package(source, destination=addon / "charts")
    declare(
        addon,
        {"name": "ministats", "version": "1.2.0", "repository": "https://charts.example.invalid"},
    )
    result = render_repo(stacks_repo)
    write(result)
    names = objects_of(stacks_repo / "rendered/releases/docker-alder-1-29-v1")
    assert "cluster-addon-ministats-1.1.0" in names
    drift = [w for w in result.warnings if "charts/ holds 1.1.0" in w.message]
    assert drift and drift[0].file == f"{ALDER}/cluster-addon/Chart.yaml", result.warnings


def test_absent_dependency_offline_needs_network(stacks_repo: Path) -> None:
    addon = stacks_repo / ALDER / "cluster-addon"
    declare(
        addon,
        {"name": "ministats", "version": "1.2.0", "repository": "https://charts.example.invalid"},
    )
    with pytest.raises(RendererError) as info:
        render_repo(stacks_repo)
    (problem,) = info.value.problems
    assert problem.file == f"{ALDER}/cluster-addon/Chart.yaml"
    assert problem.message.startswith(
        "needs network: ministats 1.2.0 from https://charts.example.invalid is not vendored"
    ), problem
    assert not (stacks_repo / "rendered").exists()


class _Recording(http.server.SimpleHTTPRequestHandler):
    requested: list[str]

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.requested.append(self.path)
        super().do_GET()


@pytest.fixture
def chart_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, list[str]]]:
    """A chart repository on loopback serving ministats 1.2.0 and extras 0.3.0; the paths
    requested are recorded."""
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(key, raising=False)
    served = tmp_path / "served"
    served.mkdir()
    package(chart(tmp_path / "srv" / "ministats", "ministats", "1.2.0"), destination=served)
    package(chart(tmp_path / "srv" / "extras", "extras", "0.3.0"), destination=served)
    requested: list[str] = []
    handler = type("Handler", (_Recording,), {"requested": requested})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(served))
    )
    url = f"http://127.0.0.1:{server.server_address[1]}"
    repo_index_generate(served, base_url=url)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield url, requested
    finally:
        server.shutdown()


def test_only_the_absent_dependency_is_fetched(
    stacks_repo: Path, chart_server: tuple[str, list[str]]
) -> None:
    url, requested = chart_server
    addon = stacks_repo / ALDER / "cluster-addon"
    chart(addon / "charts" / "ministats", "ministats", "1.2.0")
    declare(
        addon,
        {"name": "ministats", "version": "1.2.0", "repository": url},
        {"name": "extras", "version": "0.3.0", "repository": url},
    )
    write(render_repo(stacks_repo))
    assert any(p.endswith("extras-0.3.0.tgz") for p in requested), requested
    assert not any("ministats" in p for p in requested), "vendored charts are never downloaded"
    release = stacks_repo / "rendered/releases/docker-alder-1-29-v1/cluster-addon/charts"
    assert (release / "extras-0.3.0.tgz").is_file()
    assert (release / "ministats/Chart.yaml").is_file()
    assert not (addon / "charts/extras-0.3.0.tgz").exists(), "the source is never modified"


def test_fetched_dependency_is_cached_for_offline_renders(
    stacks_repo: Path, chart_server: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, requested = chart_server
    declare(
        stacks_repo / ALDER / "cluster-addon",
        {"name": "extras", "version": "0.3.0", "repository": url},
    )
    write(render_repo(stacks_repo))
    fetched = len(requested)
    for key in ("HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(key, OFFLINE)
    again = render_repo(stacks_repo, full=True)
    assert not again.diff
    other = stacks_repo.parent / "other"
    shutil.copytree(stacks_repo, other, ignore=shutil.ignore_patterns("rendered"))
    assert "docker-alder-1-29-v1" in render_repo(other).new_releases
    assert len(requested) == fetched, "the cache serves the second render"


def _published_without_dependencies(repo: Path, url: str, target: Path) -> Path:
    """birch v1 as generation-4 scripts publish it: addon charts without charts/."""
    write(render_repo(repo))
    bundle = repo / "rendered/releases/openstack-birch-1-31-v1"
    target.mkdir(parents=True)
    for name in ("metadata.yaml", "clusteraddon.yaml", "openstack-birch-1-31-cluster-class-v1.tgz"):
        shutil.copyfile(bundle / name, target / name)
    addons = target / "work"
    shutil.copytree(bundle / "cluster-addon", addons)
    metrics = addons / "metrics-server"
    shutil.rmtree(metrics / "charts")
    (metrics / "Chart.lock").unlink()
    chart_yaml = yaml.safe_load((metrics / "Chart.yaml").read_text())
    chart_yaml["dependencies"] = [{"name": "extras", "version": "0.3.0", "repository": url}]
    (metrics / "Chart.yaml").write_text(yaml.safe_dump(chart_yaml))
    (target / "openstack-birch-1-31-cluster-addon-v1.tgz").write_bytes(tar_directory(addons))
    shutil.rmtree(addons)
    return target


def test_import_vendors_what_a_published_release_does_not(
    stacks_repo: Path, chart_server: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, requested = chart_server
    published = _published_without_dependencies(stacks_repo, url, tmp_path / "published")
    archive = (published / "openstack-birch-1-31-cluster-addon-v1.tgz").read_bytes()
    consumer = tmp_path / "consumer"
    consumer.mkdir()
    (imported,) = import_releases(published, consumer)
    bundle = consumer / "rendered/releases/openstack-birch-1-31-v1"
    assert (bundle / "cluster-addon/metrics-server/charts/extras-0.3.0.tgz").is_file()
    assert (bundle / "openstack-birch-1-31-cluster-addon-v1.tgz").read_bytes() == archive
    assert imported.written and any("extras" in p for p in requested)


def test_import_offline_needs_network(stacks_repo: Path, tmp_path: Path) -> None:
    published = _published_without_dependencies(stacks_repo, OFFLINE, tmp_path / "published")
    consumer = tmp_path / "consumer"
    consumer.mkdir()
    with pytest.raises(RendererError) as info:
        import_releases(published, consumer)
    (problem,) = info.value.problems
    assert (
        problem.file
        == f"{published}/openstack-birch-1-31-cluster-addon-v1.tgz/metrics-server/Chart.yaml"
    )
    assert problem.message.startswith("needs network: extras 0.3.0 from http://127.0.0.1:9")
    assert not (consumer / "rendered").exists()
