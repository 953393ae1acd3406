"""``csops dev-cluster`` through the real CLI: up (with Cluster API), idempotent up, kubeconfig,
status, the README's walk-through (sync the example stacks, create a Cluster, see its topology),
down, up without Cluster API."""

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
from tests.polling import eventually

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
        timeout=300,
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


CLUSTER = """
apiVersion: cluster.x-k8s.io/v1beta2
kind: Cluster
metadata: {name: demo, namespace: cluster}
spec:
  topology:
    classRef: {name: docker-alder-1-29-v1}
    version: v1.29.4
    controlPlane: {replicas: 1}
    workers: {machineDeployments: [{class: default-worker, name: md-0, replicas: 1}]}
    variables: [{name: imageRepository, value: registry.example.com/k8s}]
"""
STACKS = Path(__file__).resolve().parents[2] / "stacks"


def _readme_walk_through(kubeconfig: Path, tmp_path: Path) -> None:
    """Sync the example stacks and create a Cluster: Cluster API builds its topology."""
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    cache = str(tmp_path / "sync-cache")
    synced = subprocess.run(
        [CSOPS, "sync", str(STACKS), "--once", "--no-addons", "--cache-dir", cache],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert synced.returncode == 0, synced.stdout + synced.stderr
    kubectl = str(Path(sys.executable).parent / "kubectl")
    applied = subprocess.run(
        [kubectl, "apply", "-f", "-"],
        input=CLUSTER,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert applied.returncode == 0, applied.stderr
    api = api_client_from(kubeconfig)
    custom = client.CustomObjectsApi(api)

    def control_plane() -> list[dict[str, object]]:
        found = custom.list_namespaced_custom_object(
            "controlplane.cluster.x-k8s.io", "v1beta2", "cluster", "kubeadmcontrolplanes"
        )
        return list(found["items"])

    try:
        (kcp,) = eventually(control_plane, 180, "Cluster API to create the KubeadmControlPlane")
        spec = kcp["spec"]
        assert isinstance(spec, dict)
        assert spec["kubeadmConfigSpec"]["clusterConfiguration"]["imageRepository"] == (
            "registry.example.com/k8s"
        )
    finally:
        close_api_client(api)


@pytest.mark.timeout(900)
def test_dev_cluster_lifecycle(tmp_path: Path) -> None:
    state_dir = tmp_path / "csops" / "dev-cluster"
    try:
        up = _csops(tmp_path, "up")
        assert up.returncode == 0, up.stderr
        assert "dev cluster is up at https://127.0.0.1:" in up.stdout
        assert "Cluster API v1.14.2: controllers and webhooks running" in up.stdout

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
        assert "Cluster API v1.14.2 is running" in status.stdout

        recorded = json.loads((state_dir / "state.json").read_text())
        pids = recorded["pids"]
        assert {"etcd", "kube-apiserver", "core-manager", "docker-manager"} <= set(pids)
        port = recorded["ports"]["apiserver"]

        _readme_walk_through(kubeconfig, tmp_path)

        down = _csops(tmp_path, "down")
        assert down.returncode == 0, down.stderr
        assert "stopped" in down.stdout and "core-manager" in down.stdout
        assert not any(pid_alive(pid) for pid in pids.values())
        assert _processes_using(state_dir) == []
        assert _csops(tmp_path, "status").returncode == 1

        # up again without Cluster API: same remembered port, same kubeconfig, data kept
        plain = _csops(tmp_path, "up", "--no-controller-manager", "--no-capi")
        assert plain.returncode == 0, plain.stderr
        assert "Cluster API" not in plain.stdout
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
