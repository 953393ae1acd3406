"""The wheel as a user gets it: built from a clean checkout, installed into a fresh venv outside
the repository, every command run from there (``sync --once`` on the suite's API server)."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from csops import __version__
from csops.controlplane import ControlPlane
from tests.examples import LATEST_RELEASES, rehome_stacks
from tests.packaging.conftest import REPO_ROOT, Installed, cluster_stacks, ok, run

CLI = "from csops.cli import main; main()"

# Building the wheel and installing it with its dependencies takes minutes on a busy machine.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


def test_the_wheel_holds_one_top_level_package_with_its_data(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        requires = [
            line for line in archive.read(metadata).decode().splitlines() if "Requires-Dist" in line
        ]
    assert top == {"csops"}
    for data in ("csops/schemas/csops.json", "csops/py.typed", "csops/controlplane/versions.json"):
        assert data in names, data
    # A production install pulls neither the test tools nor the control plane's crypto.
    runtime = [r for r in requires if "extra ==" not in r]
    for dev_only in ("pytest", "cryptography", "ruff", "mypy"):
        assert not any(dev_only in r for r in runtime), (dev_only, runtime)


def test_the_installed_package_is_the_one_run(installed: Installed) -> None:
    where = ok(
        run(
            installed.python,
            "-c",
            "import csops; print(csops.__file__)",
            cwd=installed.home,
            env=installed.env(),
        )
    )
    path = Path(where.stdout.strip()).resolve()
    assert path.is_relative_to(installed.venv.resolve())
    assert not path.is_relative_to(REPO_ROOT)
    assert ok(installed("--version")).stdout.strip() == f"csops, version {__version__}"


@pytest.fixture
def stacks(installed: Installed, namespace: str) -> Path:
    """The example stacks (sources only) in a git repo outside the checkout."""
    repo = rehome_stacks(installed.home / namespace / "stacks", namespace)
    for argv in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "stacks"]):
        ok(run("git", *argv, cwd=repo, env=installed.env()))
    return repo


def test_every_command_works_from_the_install(
    installed: Installed,
    stacks: Path,
    namespace: str,
    control_plane: ControlPlane,
    capi_crds: list[str],
) -> None:
    # validate, then render from scratch: releases cut, Helm renders, files written.
    ok(installed("validate", stacks))
    rendered = ok(installed("render", stacks))
    assert "0 Helm renders" not in rendered.stdout + rendered.stderr
    manifests = stacks / "rendered" / "manifests"
    assert sorted(p.name for p in (stacks / "rendered" / "releases").iterdir()) == [
        "docker-alder-1-29-v1",
        "docker-alder-1-30-v1",
        "openstack-birch-1-31-v1",
    ]
    assert (manifests / "crds" / "clusterstacks.clusterstack.x-k8s.io.yaml").is_file()

    # render --check: the fresh tree is current; a stale one exits 1 and names the file.
    ok(installed("render", "--check", stacks))
    stale = next((manifests / namespace).rglob("clusterclass.cluster.x-k8s.io/*.yaml"))
    stale.write_text(stale.read_text() + "# edited\n")
    check = installed("render", "--check", stacks)
    assert check.returncode == 1, check.stdout + check.stderr
    assert stale.name in check.stdout + check.stderr
    ok(installed("render", stacks))

    listed = json.loads(ok(installed("ls", stacks, "-o", "json")).stdout)
    assert "docker-alder-1-29-v1" in json.dumps(listed)

    stack = "providers/docker/alder/1-29"
    hashed = yaml.safe_load(ok(installed("hash", stacks / stack, "-o", "yaml")).stdout)
    here = ok(run(sys.executable, "-c", CLI, "hash", REPO_ROOT / "stacks" / stack, "-o", "yaml"))
    assert hashed == yaml.safe_load(here.stdout)
    assert hashed["version"].startswith("v0-sha.")

    # diff against the committed sources: a changed value shows up as a changed object.
    ok(run("git", "add", "-A", cwd=stacks, env=installed.env()))
    ok(run("git", "commit", "-q", "-m", "rendered", cwd=stacks, env=installed.env()))
    values = stacks / "providers/docker/alder/1-29/cluster-class/values.yaml"
    values.write_text(values.read_text().replace('"true"', '"false"'))
    diffed = installed("diff", stacks, "--base", "HEAD", "--exit-code")
    assert diffed.returncode == 1, diffed.stdout + diffed.stderr
    assert "docker-alder-1-29-v2" in diffed.stdout
    ok(run("git", "checkout", "--", ".", cwd=stacks, env=installed.env()))

    # sync --once against the suite's real API server.
    synced = installed(
        "sync",
        stacks,
        "--once",
        "--name",
        f"install-{namespace}",
        "--inventory-namespace",
        namespace,
        "--no-addons",
        "--kubeconfig",
        control_plane.kubeconfig_path,
        "--cache-dir",
        installed.home / namespace / "cache",
    )
    ok(synced)
    latest = {
        name: status.get("latestRelease")
        for name, status in cluster_stacks(control_plane.kubeconfig_path, namespace).items()
    }
    assert latest == LATEST_RELEASES
