"""``csops link-cso``: the Cluster Stack Operator's ``--local`` layout over csops's bundles.

``cso_release`` below does what CSO's ``pkg/release`` does with a tag and a release
directory (``New`` and ``CheckHelmCharts``): the release lives in
``<release-dir>/cluster-stacks/<tag>/``, ``metadata.yaml`` versions must parse, and the class
and addon charts are the first non-directory entries (by name) whose names contain
``P-N-M-m-cluster-class-<V>`` and ``P-N-M-m-cluster-addon-<addon V>`` and end in ``.tgz``.
CSO then renders the class archive with ``helm template P-N-M-m --namespace <ns>``; that must
give the objects ``csops render`` commits.
"""

from __future__ import annotations

import os
import re
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import Result

from csops.renderer import render_repo, write
from tests.renderer.helmoracle import committed, helm_template

pytestmark = pytest.mark.integration

CSO_VERSION = re.compile(r"^v\d+(-\b\w+\b\.\w+)?$")


def cso_release(release_dir: Path, tag: str) -> dict[str, Any]:
    """What CSO's pkg/release finds for ``tag`` (assertions where it would return an error)."""
    parts = tag.split("-")
    assert len(parts) in (5, 7), tag
    provider, name, major, minor = parts[:4]
    version = "-".join(parts[4:])
    if len(parts) == 7:
        version = f"{parts[4]}-{parts[5]}.{parts[6]}"
    path = release_dir / "cluster-stacks" / tag
    assert path.is_dir(), f"CSO would download {tag}: {path} is missing"
    meta = yaml.safe_load((path / "metadata.yaml").read_text())["versions"]
    for key in (
        meta["clusterStack"],
        meta["components"]["clusterAddon"],
        meta["components"]["nodeImage"],
    ):
        assert CSO_VERSION.match(key), key
    assert meta["kubernetes"]

    def chart(kind: str, chart_version: str) -> Path:
        wanted = f"{provider}-{name}-{major}-{minor}-cluster-{kind}-{chart_version}"
        with os.scandir(path) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.is_dir(follow_symlinks=False):
                    continue
                if wanted in entry.name and entry.name.endswith(".tgz"):
                    return Path(entry.path)
        raise AssertionError(f"CSO finds no chart matching {wanted} in {path}")

    return {
        "helm_release": f"{provider}-{name}-{major}-{minor}",
        "class_chart": chart("class", version),
        "addon_chart": chart("addon", meta["components"]["clusterAddon"]),
        "kubernetes": meta["kubernetes"],
        "path": path,
    }


@pytest.fixture
def rendered(stacks_repo: Path) -> Path:
    write(render_repo(stacks_repo))
    return stacks_repo


def test_cso_finds_and_renders_every_release_through_the_links(
    rendered: Path, tmp_path: Path, csops: Callable[..., Result]
) -> None:
    release_dir = tmp_path / "downloads"
    result = csops("link-cso", release_dir, rendered)
    assert result.exit_code == 0, result.output
    tags = sorted(p.name for p in (rendered / "rendered/releases").iterdir())
    assert tags == ["docker-alder-1-29-v1", "docker-alder-1-30-v1", "openstack-birch-1-31-v1"]
    for tag in tags:
        found = cso_release(release_dir, tag)
        assert found["class_chart"].is_symlink()
        assert (
            found["class_chart"].resolve()
            == (rendered / "rendered/releases" / tag / found["class_chart"].name).resolve()
        )
        objects = helm_template(found["class_chart"], found["helm_release"], "cluster")
        assert objects == committed(rendered, tag, "cluster"), tag
    again = csops("link-cso", release_dir, rendered)
    assert again.stdout.count("up to date") == 3


def test_what_cso_writes_stays_out_of_the_rendered_tree(
    rendered: Path, tmp_path: Path, csops: Callable[..., Result]
) -> None:
    """CSO unpacks the addon archive next to it; the bundle in git is not touched."""
    release_dir = tmp_path / "downloads"
    assert csops("link-cso", release_dir, rendered).exit_code == 0
    found = cso_release(release_dir, "openstack-birch-1-31-v1")
    target = found["path"] / found["addon_chart"].name.removesuffix(".tgz")
    with tarfile.open(found["addon_chart"]) as tar:
        tar.extractall(target, filter="data")
    assert (target / "ccm/Chart.yaml").is_file()
    check = csops("render", "--check", rendered)
    assert check.exit_code == 0, check.output


def test_a_new_release_is_linked_on_the_next_run(
    rendered: Path, tmp_path: Path, csops: Callable[..., Result]
) -> None:
    release_dir = tmp_path / "downloads"
    assert csops("link-cso", release_dir, rendered).exit_code == 0
    values = rendered / "providers/docker/alder/1-29/cluster-class/values.yaml"
    values.write_text(values.read_text() + "# v2\n")
    write(render_repo(rendered))
    result = csops("link-cso", release_dir, rendered)
    assert "cluster-stacks/docker-alder-1-29-v2: 6 links" in result.stdout, result.stdout
    assert cso_release(release_dir, "docker-alder-1-29-v2")["class_chart"].is_file()


def test_a_linked_cluster_stacks_directory_is_refused(
    rendered: Path, tmp_path: Path, csops: Callable[..., Result]
) -> None:
    release_dir = tmp_path / "downloads"
    release_dir.mkdir()
    (release_dir / "cluster-stacks").symlink_to(rendered / "rendered/releases")
    result = csops("link-cso", release_dir, rendered)
    assert result.exit_code == 1
    assert "is a symbolic link; CSO writes into release directories" in result.stderr
    shutil.rmtree(release_dir)
