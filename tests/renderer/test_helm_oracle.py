"""csops's objects equal what the real Helm engine renders, object by object.

For every release a ClusterStack offers, in the example stacks and in the team-written fixture
stacks (vendored subcharts, aliases, conditions, generation 4), the ClusterClass and templates
csops commits equal ``helm template P-N-M-m <class archive> --namespace <ns>`` (see
:mod:`tests.renderer.helmoracle`), for releases csops cut, releases imported as CSO publishes
them, and bundles that hold only CSO's archives. The addon charts of the fixture stacks render
through csops exactly as Helm renders the same chart with the same values.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from helm_python import Chart

from csops.renderer import import_releases, render_repo, template_values, write
from csops.renderer.addons import addon_charts, render_addon, sample_cluster
from tests.renderer.conftest import EXAMPLES
from tests.renderer.helmoracle import committed, helm_template, key

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stacks"
REPOS = {"examples": EXAMPLES, "fixtures": FIXTURES}


def rendered_copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("rendered"))
    write(render_repo(target))
    return target


@pytest.fixture(params=sorted(REPOS))
def repo(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CSOPS_CACHE_DIR", str(tmp_path / "cache"))
    return rendered_copy(REPOS[request.param], tmp_path / request.param)


def offers(repo: Path) -> list[tuple[str, str, Path]]:
    """(namespace, release, bundle) of every release the repository's manifests hold."""
    result = render_repo(repo)
    return sorted((o.namespace, o.release.name, o.release.directory) for o in result.offers)


def test_class_objects_equal_helm_template(repo: Path) -> None:
    found = offers(repo)
    assert len(found) >= 3
    for namespace, release, bundle in found:
        prefix = "-".join(release.split("-")[:4])
        archive = next(bundle.glob(f"{prefix}-cluster-class-*.tgz"))
        expected = helm_template(archive, prefix, namespace)
        assert expected, release
        assert committed(repo, release, namespace) == expected, release
        assert helm_template(bundle / "cluster-class", prefix, namespace) == expected


def test_imported_and_archive_only_releases_equal_helm_template(tmp_path: Path) -> None:
    """The fixture releases, imported as CSO publishes them, or dropped in as archives."""
    original = rendered_copy(FIXTURES, tmp_path / "original")
    for how in ("imported", "archives"):
        consumer = tmp_path / how
        shutil.copytree(FIXTURES / "clusterstacks", consumer / "clusterstacks")
        shutil.copyfile(FIXTURES / "csops.yaml", consumer / "csops.yaml")
        published = tmp_path / f"published-{how}"
        for bundle in (original / "rendered/releases").iterdir():
            target = published / bundle.name
            target.mkdir(parents=True)
            for path in bundle.iterdir():
                if path.is_file() and path.name != "hashes.json":
                    shutil.copyfile(path, target / path.name)
        if how == "imported":
            import_releases(published, consumer)
        else:
            shutil.copytree(published, consumer / "rendered/releases")
        write(render_repo(consumer))
        for namespace, release, _ in offers(original):
            assert committed(consumer, release, namespace) == committed(
                original, release, namespace
            ), (how, release)


def live_cluster(class_name: str, kubernetes: str, extras: bool) -> dict[str, Any]:
    cluster = sample_cluster(class_name, kubernetes)
    cluster["spec"]["topology"]["variables"] = [{"name": "extras", "value": extras}]
    return cluster


INFRA = {
    "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
    "kind": "OpenStackCluster",
    "metadata": {"name": "sample-x1"},
    "status": {"network": {"id": "net-7"}, "externalNetwork": {"id": "ext-3"}},
}


@pytest.mark.parametrize("extras", [False, True])
def test_fixture_addons_equal_helm_with_the_same_values(tmp_path: Path, extras: bool) -> None:
    repo = rendered_copy(FIXTURES, tmp_path / "fixtures")
    for namespace, release, bundle in offers(repo):
        assert namespace == "cluster"
        new = (bundle / "clusteraddon.yaml").is_file()
        metadata = render_repo(repo).releases[release].versions
        cluster = live_cluster(release, metadata.kubernetes, extras)
        for name, (chart, values_file) in addon_charts(bundle, new).items():
            values = None
            if values_file is not None and values_file.is_file():
                values = template_values(
                    values_file.read_text(), cluster, display=name, infra_cluster=INFRA
                )
            ours = render_addon(
                chart,
                kubernetes=metadata.kubernetes,
                values_file=values_file,
                cluster=cluster,
                infra_cluster=INFRA,
                display=name,
            )
            with Chart.load(chart) as loaded:
                rendered = loaded.render(
                    values=values, name="cluster-addon", namespace="kube-system"
                )
                crds = loaded.crds
            helm = [d for c in crds for d in yaml.safe_load_all(c["data"]) if d]
            for path, text in sorted(rendered.items()):
                if not path.endswith("NOTES.txt"):
                    helm += [d for d in yaml.safe_load_all(text) if d]
            assert sorted(ours, key=key) == sorted(helm, key=key), (release, name)
