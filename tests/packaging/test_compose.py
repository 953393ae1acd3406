"""The docker compose playground, run with podman-compose on the images ``make images`` built:
``up -d`` brings up etcd, kube-apiserver, the git server and ``csops sync``; the example
ClusterStacks get their status; ``down -v`` removes everything."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from csops.controlplane.ports import free_port
from tests.containers import CSOPS_IMAGE, GIT_SERVER_IMAGE, podman, podman_env, require_image
from tests.examples import LATEST_RELEASES
from tests.packaging.conftest import REPO_ROOT, ok, run
from tests.polling import eventually

pytestmark = pytest.mark.integration

COMPOSE = Path(sys.executable).parent / "podman-compose"
UPSTREAM_IMAGES = ("registry.k8s.io/etcd:3.6.8-0", "registry.k8s.io/kube-apiserver:v1.36.3")


class Playground:
    """One compose project on free loopback ports."""

    def __init__(self) -> None:
        self.project = f"csops-test-{secrets.token_hex(3)}"
        self.port = free_port()
        self.api_port = free_port()

    def compose(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        env = podman_env(CSOPS_PORT=str(self.port), CSOPS_API_PORT=str(self.api_port))
        return run(
            COMPOSE,
            "-p",
            self.project,
            "-f",
            REPO_ROOT / "docker-compose.yml",
            *args,
            cwd=REPO_ROOT,
            env=env,
            timeout=timeout,
        )

    def cluster_stacks(self) -> dict[str, Any]:
        """``compose exec csops kubectl get clusterstacks -A -o json``, as the README says."""
        done = self.compose(
            "exec", "-T", "csops", "kubectl", "get", "clusterstacks", "-A", "-o", "json"
        )
        if done.returncode != 0:
            return {}
        return {
            i["metadata"]["name"]: i.get("status") or {} for i in json.loads(done.stdout)["items"]
        }

    def metrics(self) -> str:
        try:
            url = f"http://127.0.0.1:{self.port}/metrics"
            with urllib.request.urlopen(url, timeout=5) as response:
                return str(response.read().decode())
        except (urllib.error.URLError, OSError):
            return ""


@pytest.fixture
def playground() -> Iterator[Playground]:
    for image in (CSOPS_IMAGE, GIT_SERVER_IMAGE, *UPSTREAM_IMAGES):
        require_image(image)
    ground = Playground()
    try:
        yield ground
    finally:
        logs = ground.compose("logs", timeout=120)
        down = ground.compose("down", "-v", "-t", "10", timeout=300)
        assert down.returncode == 0, down.stderr[-3000:] + logs.stdout[-3000:]


@pytest.mark.timeout(900)
def test_compose_up_syncs_the_example_stacks(playground: Playground) -> None:
    up = playground.compose("up", "-d")
    ok(up)

    def synced() -> dict[str, Any] | None:
        stacks = playground.cluster_stacks()
        latest = {name: s.get("latestRelease") for name, s in stacks.items()}
        return stacks if latest == LATEST_RELEASES else None

    stacks = eventually(synced, timeout=600, what="the example ClusterStacks with status")
    for name, status in stacks.items():
        ready = [c for c in status.get("conditions") or [] if c["type"] == "Ready"]
        expected = "True" if LATEST_RELEASES[name] else "False"  # birch waits for its image
        assert ready and ready[0]["status"] == expected, (name, status)
    # Published on 127.0.0.1: the metrics name the git revision synced.
    eventually(
        lambda: 'csops_sync_revision_info{revision="main@sha1:' in playground.metrics(),
        timeout=60,
        what="the synced revision in /metrics",
    )
    logs = ok(playground.compose("logs", "csops")).stdout
    assert "InsecureRequestWarning" not in logs  # the API server's certificate is verified
    # Long-running services run under an init, so a stop is quick and clean.
    for service in ("etcd", "kube-apiserver", "git-server", "csops"):
        container = f"{playground.project}_{service}_1"
        init = ok(podman("inspect", "--format", "{{.HostConfig.Init}}", container))
        assert init.stdout.strip() == "true", service
