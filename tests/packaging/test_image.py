"""The csops image ``make images`` built from the top-level Dockerfile: non-root, no shell
needed, a read-only root filesystem, git and kubectl inside; it syncs the example stacks from
a private HTTPS git server (a token) into the suite's API server."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from csops import __version__
from csops.controlplane import ControlPlane
from csops.renderer import render_repo, write
from tests.addons.conftest import serving_cert
from tests.containers import CSOPS_IMAGE, podman, require_image
from tests.examples import LATEST_RELEASES, rehome_stacks
from tests.gitservers import GitHttpsServer
from tests.packaging.conftest import cluster_stacks, ok

pytestmark = pytest.mark.integration

CSOPS_UID = 10001
TOKEN = "image-test-token"
USER = "ci-bot"
#: Every shell of the base image is masked with /dev/null: nothing may need one.
SHELLS = ("/usr/bin/dash", "/usr/bin/bash")


def hardened(*args: str | Path) -> list[str | Path]:
    """``podman run`` as the Deployment runs the image: read-only, no capabilities, no shell."""
    masks = [a for shell in SHELLS for a in ("-v", f"/dev/null:{shell}:ro")]
    return [
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/tmp",
        "--tmpfs",
        "/var/cache/csops:U",  # owned by the image user, as an emptyDir with fsGroup
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        *masks,
        *args,
    ]


def test_the_image_runs_as_a_non_root_user_without_a_shell() -> None:
    config = require_image(CSOPS_IMAGE)["Config"]
    assert config["User"] == f"{CSOPS_UID}:{CSOPS_UID}"  # type: ignore[index]
    assert config["Entrypoint"] == ["csops"]  # type: ignore[index]
    version = ok(podman(*hardened(CSOPS_IMAGE, "--version")))
    assert version.stdout.strip() == f"csops, version {__version__}"
    shell = podman(*hardened("--entrypoint", "sh", CSOPS_IMAGE, "-c", "true"))
    assert shell.returncode != 0  # the mask works: a shell really is unavailable
    kubectl = ok(podman(*hardened("--entrypoint", "kubectl", CSOPS_IMAGE, "version", "--client")))
    assert "Client Version: v1." in kubectl.stdout
    git = ok(podman(*hardened("--entrypoint", "git", CSOPS_IMAGE, "--version")))
    assert git.stdout.startswith("git version 2.")


@pytest.mark.timeout(600)
def test_the_image_syncs_from_git_into_the_api_server(
    control_plane: ControlPlane, capi_crds: list[str], namespace: str, tmp_path: Path
) -> None:
    stacks = rehome_stacks(tmp_path / "stacks", namespace)
    write(render_repo(stacks))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(stacks)]
    for argv in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "s"]):
        subprocess.run([*git, *argv], check=True)
    served = tmp_path / "served"
    served.mkdir()
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(stacks), str(served / "stacks.git")], check=True
    )
    kubeconfig = tmp_path / "kubeconfig"
    shutil.copyfile(control_plane.kubeconfig_path, kubeconfig)
    os.chown(kubeconfig, CSOPS_UID, CSOPS_UID)  # readable by the image's user only
    cert, key, _ = serving_cert(tmp_path)
    cert.chmod(0o644)  # the CA bundle, public
    with GitHttpsServer(served, USER, TOKEN, cert, key) as server:
        synced = podman(
            *hardened(
                "--network",
                "host",
                "-e",
                f"CSOPS_GIT_TOKEN={TOKEN}",
                "-e",
                f"CSOPS_GIT_USERNAME={USER}",
                "-v",
                f"{kubeconfig}:/kubeconfig:ro",
                "-v",
                f"{cert}:/ca.crt:ro",
                CSOPS_IMAGE,
                "sync",
                server.url("stacks.git"),
                "--once",
                "--git-ca-file",
                "/ca.crt",
                "--branch",
                "main",
                "--kubeconfig",
                "/kubeconfig",
                "--name",
                f"image-{namespace}",
                "--inventory-namespace",
                namespace,
                "--no-addons",
            ),
            timeout=500,
        )
    ok(synced)
    assert server.served > 0 and TOKEN not in synced.stdout + synced.stderr
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    assert f"main@sha1:{head.stdout.strip()}" in synced.stdout + synced.stderr
    stacks_status = cluster_stacks(control_plane.kubeconfig_path, namespace)
    assert {name: s.get("latestRelease") for name, s in stacks_status.items()} == LATEST_RELEASES
