"""``csops import``: releases as csctl and CSO publish them (and as csops writes them) become
bundles that render like any other; incomplete, inconsistent or conflicting ones change nothing."""

from __future__ import annotations

import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import Result

from csops.renderer import render_repo, write
from csops.renderer.addons import addon_charts, render_addon, sample_cluster
from tests.renderer.conftest import EXAMPLES, snapshot

pytestmark = pytest.mark.integration

RELEASES = ("docker-alder-1-29-v1", "docker-alder-1-30-v1", "openstack-birch-1-31-v1")
PUBLISHED = (
    "metadata.yaml",
    "clusteraddon.yaml",
    "cluster-addon-values.yaml",
    "node-images.yaml",
)


def cso_layout(bundle: Path, target: Path) -> Path:
    """What CSO publishes for a release: the archives and the config files, nothing else."""
    target.mkdir(parents=True)
    for path in bundle.iterdir():
        if path.name in PUBLISHED or path.suffix == ".tgz":
            shutil.copyfile(path, target / path.name)
    return target


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example stacks, rendered: the releases to publish and the manifests to match."""
    repo = tmp_path_factory.mktemp("original") / "stacks"
    shutil.copytree(EXAMPLES, repo, ignore=shutil.ignore_patterns("rendered"))
    write(render_repo(repo))
    return repo


@pytest.fixture
def consumer(tmp_path: Path) -> Path:
    """A repository with the example ClusterStacks but no stack sources: it only imports."""
    repo = tmp_path / "consumer"
    repo.mkdir()
    shutil.copytree(EXAMPLES / "clusterstacks", repo / "clusterstacks")
    shutil.copyfile(EXAMPLES / "csops.yaml", repo / "csops.yaml")
    return repo


def published_dir(original: Path, tmp_path: Path) -> Path:
    """Every example release in CSO's published layout, side by side."""
    out = tmp_path / "published"
    for name in RELEASES:
        cso_layout(original / "rendered/releases" / name, out / name)
    return out


def objects(release_dir: Path) -> list[list[dict]]:
    """What each addon chart of a bundle renders for the sample Cluster."""
    new = (release_dir / "clusteraddon.yaml").is_file()
    cluster = sample_cluster("x", "v1.29.4")
    return [
        render_addon(chart, kubernetes="v1.29.4", values_file=values, cluster=cluster, display="a")
        for chart, values in addon_charts(release_dir, new).values()
    ]


def test_cso_published_releases_render_like_csops_own(
    original: Path, consumer: Path, tmp_path: Path, csops: Callable[..., Result]
) -> None:
    result = csops("import", published_dir(original, tmp_path), consumer)
    assert result.exit_code == 0, result.output
    for name in RELEASES:
        assert f"release {name} imported" in result.stdout
    assert csops("render", consumer).exit_code == 0
    assert snapshot(consumer / "rendered/manifests") == snapshot(original / "rendered/manifests")
    for name in RELEASES:
        ours = consumer / "rendered/releases" / name
        theirs = original / "rendered/releases" / name
        assert objects(ours) == objects(theirs), name
        for file in (*PUBLISHED, f"{name[:-3]}-cluster-class-v1.tgz"):
            if (theirs / file).is_file():
                assert (ours / file).read_bytes() == (theirs / file).read_bytes(), file
        assert not (ours / "hashes.json").exists(), "nothing is made up"


def test_csops_bundles_import_unchanged_and_twice_is_a_no_op(
    original: Path, consumer: Path, csops: Callable[..., Result]
) -> None:
    source = original / "rendered/releases"
    assert csops("import", source, consumer).exit_code == 0
    for name in RELEASES:
        assert snapshot(consumer / "rendered/releases" / name) == snapshot(source / name)
    again = csops("import", source, consumer, "-o", "yaml")
    assert again.exit_code == 0
    assert [r["imported"] for r in yaml.safe_load(again.stdout)] == [False, False, False]


def test_cso_release_dir_with_extra_files(
    original: Path, consumer: Path, tmp_path: Path, csops: Callable[..., Result]
) -> None:
    """CSO's --release-dir: cluster-stacks/<tag>/, with what CSO unpacked and example files."""
    release_dir = tmp_path / "downloads"
    tag = "openstack-birch-1-31-v1"
    bundle = cso_layout(original / "rendered/releases" / tag, release_dir / "cluster-stacks" / tag)
    (bundle / "topology-openstack.yaml").write_text("kind: Cluster\n")
    addon = bundle / "openstack-birch-1-31-cluster-addon-v1"
    with tarfile.open(bundle / "openstack-birch-1-31-cluster-addon-v1.tgz") as tar:
        tar.extractall(addon, filter="data")
    result = csops("import", release_dir, consumer)
    assert result.exit_code == 0, result.output
    assert "topology-openstack.yaml" in result.stderr and "left out" in result.stderr
    bundle_out = consumer / "rendered/releases" / tag
    assert not (bundle_out / "topology-openstack.yaml").exists()
    assert (bundle_out / "cluster-addon/ccm/Chart.yaml").is_file()


def test_archive_only_bundle_in_the_tree_is_read(
    original: Path, consumer: Path, csops: Callable[..., Result]
) -> None:
    """A bundle dropped into rendered/releases/ as CSO publishes it renders too."""
    for name in RELEASES:
        cso_layout(original / "rendered/releases" / name, consumer / "rendered/releases" / name)
    result = csops("render", consumer)
    assert result.exit_code == 0, result.output
    assert snapshot(consumer / "rendered/manifests") == snapshot(original / "rendered/manifests")
    for name in RELEASES:
        bundle = consumer / "rendered/releases" / name
        assert not (bundle / "cluster-addon").exists()
        assert objects(bundle) == objects(original / "rendered/releases" / name)


def _bad(original: Path, tmp_path: Path, name: str = "docker-alder-1-29-v1") -> Path:
    return cso_layout(original / "rendered/releases" / name, tmp_path / "bad" / name)


def _set_metadata(bundle: Path, **components: str) -> None:
    path = bundle / "metadata.yaml"
    doc = yaml.safe_load(path.read_text())
    for key, value in components.items():
        if key in ("clusterStack", "kubernetes"):
            doc["versions"][key] = value
        else:
            doc["versions"]["components"][key] = value
    path.write_text(yaml.safe_dump(doc))


def no_addon_archive(bundle: Path) -> None:
    (bundle / "docker-alder-1-29-cluster-addon-v1.tgz").unlink()


def no_class_archive(bundle: Path) -> None:
    (bundle / "docker-alder-1-29-cluster-class-v1.tgz").unlink()


def wrong_directory_name(bundle: Path) -> None:
    bundle.rename(bundle.with_name("docker-alder-1-29-v2"))


def archive_holds_another_version(bundle: Path) -> None:
    (bundle / "docker-alder-1-29-cluster-class-v1.tgz").rename(
        bundle / "docker-alder-1-29-cluster-class-v3.tgz"
    )
    _set_metadata(bundle, clusterStack="v3")
    bundle.rename(bundle.with_name("docker-alder-1-29-v3"))


def kubernetes_of_another_minor(bundle: Path) -> None:
    _set_metadata(bundle, kubernetes="v1.30.1")


def unparsable_metadata(bundle: Path) -> None:
    _set_metadata(bundle, nodeImage="latest")


def unpacked_chart_differs(bundle: Path) -> None:
    with tarfile.open(bundle / "docker-alder-1-29-cluster-class-v1.tgz") as tar:
        tar.extractall(bundle / "x", filter="data")
    (bundle / "x/docker-alder-1-29-cluster-class").rename(bundle / "cluster-class")
    (bundle / "x").rmdir()
    values = bundle / "cluster-class/values.yaml"
    values.write_text(values.read_text() + "extra: true\n")


BAD = [
    (no_addon_archive, "incomplete: no addon archive docker-alder-1-29-cluster-addon-v1.tgz"),
    (no_class_archive, "incomplete: no class chart archive P-N-M-m-cluster-class-v1.tgz"),
    (wrong_directory_name, "inconsistent: the directory is named docker-alder-1-29-v2"),
    (
        archive_holds_another_version,
        "inconsistent: holds chart docker-alder-1-29-cluster-class v1, expected "
        "docker-alder-1-29-cluster-class v3",
    ),
    (kubernetes_of_another_minor, "inconsistent: Kubernetes v1.30.1 is not of the minor 1.29"),
    (
        unparsable_metadata,
        "metadata.yaml:6: versions.components.nodeImage: 'latest' does not match",
    ),
    (unpacked_chart_differs, "inconsistent: the unpacked chart differs from its archive (values)"),
]


@pytest.mark.parametrize(("breakage", "message"), BAD, ids=[b[0].__name__ for b in BAD])
def test_bad_release_is_refused_and_nothing_is_written(
    *,
    original: Path,
    consumer: Path,
    tmp_path: Path,
    csops: Callable[..., Result],
    breakage: Callable[[Path], None],
    message: str,
) -> None:
    bundle = _bad(original, tmp_path)
    good = cso_layout(original / "rendered/releases/openstack-birch-1-31-v1", bundle.parent / "ok")
    breakage(bundle)
    result = csops("import", bundle.parent, consumer)
    assert result.exit_code == 1, result.output
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.output
    assert not (consumer / "rendered").exists(), "all or nothing"
    assert good.is_dir()


def test_import_never_changes_an_existing_release(
    original: Path, consumer: Path, tmp_path: Path, csops: Callable[..., Result]
) -> None:
    name = "docker-alder-1-29-v1"
    assert csops("import", original / "rendered/releases" / name, consumer).exit_code == 0
    before = snapshot(consumer / "rendered")
    changed = cso_layout(original / "rendered/releases" / name, tmp_path / "changed" / name)
    _set_metadata(changed, nodeImage="v2")
    result = csops("import", changed, consumer)
    assert result.exit_code == 1
    assert f"rendered/releases/{name}: exists, and the import differs in metadata.yaml" in (
        result.stderr
    )
    assert snapshot(consumer / "rendered") == before


def test_nothing_to_import(consumer: Path, tmp_path: Path, csops: Callable[..., Result]) -> None:
    (tmp_path / "empty").mkdir()
    result = csops("import", tmp_path / "empty", consumer)
    assert result.exit_code == 1
    assert "holds no release" in result.stderr
