"""``csops dev-cluster`` through the real CLI: up, idempotent up, kubeconfig, status, down."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from kubernetes import client

from csops.controlplane.processes import pid_alive
from csops.controlplane.server import api_client_from, close_api_client

pytestmark = pytest.mark.integration

CSOPS = str(Path(sys.executable).parent / "csops")


def _csops(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_STATE_HOME": str(state)}
    return subprocess.run(
        [CSOPS, "dev-cluster", *args],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=180,
    )


def _processes_using(directory: Path) -> list[int]:
    """Pids whose command line mentions ``directory`` (the dev cluster's servers do)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if str(directory) in cmdline and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def test_dev_cluster_lifecycle(tmp_path: Path) -> None:
    state_dir = tmp_path / "csops" / "dev-cluster"
    try:
        up = _csops(tmp_path, "up")
        assert up.returncode == 0, up.stderr
        assert "dev cluster is up at https://127.0.0.1:" in up.stdout

        again = _csops(tmp_path, "up")
        assert again.returncode == 0, again.stderr
        assert "already running" in again.stdout

        printed = _csops(tmp_path, "kubeconfig")
        assert printed.returncode == 0
        kubeconfig = Path(printed.stdout.strip())
        assert kubeconfig == state_dir / "kubeconfig"
        api = api_client_from(kubeconfig)
        crds = client.ApiextensionsV1Api(api).list_custom_resource_definition().items
        close_api_client(api)
        assert "clusters.cluster.x-k8s.io" in {c.metadata.name for c in crds if c.metadata}

        status = _csops(tmp_path, "status")
        assert status.returncode == 0
        assert "ready" in status.stdout

        recorded = json.loads((state_dir / "state.json").read_text())
        pids = recorded["pids"]
        assert {"etcd", "kube-apiserver"} <= set(pids)
        port = recorded["ports"]["apiserver"]

        down = _csops(tmp_path, "down")
        assert down.returncode == 0, down.stderr
        assert "stopped" in down.stdout
        assert not any(pid_alive(pid) for pid in pids.values())
        assert _processes_using(state_dir) == []
        assert _csops(tmp_path, "status").returncode == 1

        # up again: same remembered port, same kubeconfig, data kept
        assert _csops(tmp_path, "up", "--no-controller-manager").returncode == 0
        assert json.loads((state_dir / "state.json").read_text())["ports"]["apiserver"] == port
    finally:
        _csops(tmp_path, "down", "--purge")
    assert _processes_using(state_dir) == []
    assert not state_dir.exists()


def test_dev_cluster_kubeconfig_before_up_fails(tmp_path: Path) -> None:
    result = _csops(tmp_path, "kubeconfig")
    assert result.returncode == 1
    assert "csops dev-cluster up" in result.stderr


def test_dev_cluster_usage_error(tmp_path: Path) -> None:
    assert _csops(tmp_path, "up", "--port", "notaport").returncode == 2
