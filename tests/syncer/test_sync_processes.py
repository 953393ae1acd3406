"""The syncer as a process: SIGKILL mid-apply, the API server going away, leader election."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from typing import IO

import pytest

from csops.controlplane import ControlPlane
from csops.syncer.controller import sync_once
from csops.syncer.inventory import InventoryStore
from csops.syncer.kube import Kube
from csops.syncer.settings import Settings
from tests.polling import eventually
from tests.syncer.conftest import StacksRepo

pytestmark = pytest.mark.integration


def csops_sync(config: Settings, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from csops.cli import main; main()",
        "sync",
        config.repo,
        "--branch",
        "main",
        "--kubeconfig",
        str(config.kubeconfig),
        "--name",
        config.name,
        "--inventory-namespace",
        config.inventory_namespace,
        "--cache-dir",
        str(config.cache_dir),
        "--log-format",
        "json",
        *extra,
    ]


class Lines:
    """Every line a process writes to a pipe, collected by a thread as it comes."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append(line)

    def text(self) -> str:
        self._thread.join(5)
        return "".join(self.lines)


CLASSES_FIRST = 120.0  # seconds until the first ConfigMaps: the classes are applied first


def add_configmaps(repo: StacksRepo, count: int) -> None:
    target = repo.manifests / repo.namespace / "configmap"
    for i in range(count):
        (target / f"bulk-{i:04d}.yaml").write_text(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bulk-{i:04d}\n"
            f"  namespace: {repo.namespace}\ndata:\n  i: '{i}'\n"
        )


def test_sigkill_mid_apply_then_restart_converges(
    kube: Kube, stacks_repo: StacksRepo, sync_config: Settings
) -> None:
    add_configmaps(stacks_repo, 300)
    stacks_repo.commit("300 configmaps")
    res = kube.resource("v1", "ConfigMap")
    proc = subprocess.Popen(
        csops_sync(sync_config, "--once", "--concurrency", "2"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ns = stacks_repo.namespace
    # the ConfigMaps come after the ClusterClasses, which Cluster API's controllers reconcile
    eventually(lambda: len(kube.list(res, namespace=ns).items) > 40, CLASSES_FIRST)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    applied = len(kube.list(res, namespace=ns).items)
    assert applied < 300, "the kill came too late to be mid-apply"
    inv = InventoryStore(kube, sync_config.name, sync_config.inventory_namespace).read()
    assert len(inv.members) > 300  # the superset was recorded before applying
    # the revision now drops half of them; the restarted syncer converges exactly
    for i in range(150, 300):
        (stacks_repo.manifests / ns / "configmap" / f"bulk-{i:04d}.yaml").unlink()
    stacks_repo.commit("150 configmaps")
    result = sync_once(sync_config, kube)
    assert result.ok, result.state()
    names = {cm["metadata"]["name"] for cm in kube.list(res, namespace=ns).items}
    bulk = {n for n in names if n.startswith("bulk-")}
    assert bulk == {f"bulk-{i:04d}" for i in range(150)}  # nothing leaked, nothing lost
    assert "docker-alder-1-29-v1-node-images" in names
    inv = InventoryStore(kube, sync_config.name, sync_config.inventory_namespace).read()
    # the inventory holds what was applied and what waits for node images, nothing else
    assert len(inv.members) == len(result.outcomes) + len(result.held)


def test_api_server_stopped_mid_sync_and_restarted(
    kube: Kube, stacks_repo: StacksRepo, sync_config: Settings, control_plane: ControlPlane
) -> None:
    add_configmaps(stacks_repo, 200)
    stacks_repo.commit("200 configmaps")
    res = kube.resource("v1", "ConfigMap")
    ns = stacks_repo.namespace
    proc = subprocess.Popen(
        csops_sync(sync_config, "--interval", "1", "--concurrency", "2"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    log = Lines(proc.stderr)
    try:
        eventually(lambda: len(kube.list(res, namespace=ns).items) > 20, CLASSES_FIRST)
        control_plane.stop_apiserver()
        before = len(log.lines)
        eventually(  # the syncer sees the dead server and keeps running (backoff)
            lambda: any('"level": "error"' in line for line in log.lines[before:]),
            30,
            "the syncer to report the unreachable API server",
        )
        assert proc.poll() is None
        control_plane.start_apiserver()
        eventually(
            lambda: (
                len(
                    [
                        c
                        for c in kube.list(res, namespace=ns).items
                        if c["metadata"]["name"].startswith("bulk-")
                    ]
                )
                == 200
            ),
            60,
        )
        store = InventoryStore(kube, sync_config.name, sync_config.inventory_namespace)
        eventually(lambda: store.read().state.get("ok") is True, 30)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0  # graceful shutdown


def test_two_replicas_leader_killed_other_takes_over(
    kube: Kube, stacks_repo: StacksRepo, sync_config: Settings
) -> None:
    args = ("--leader-elect", "--lease-duration", "2", "--interval", "1")
    env = dict(os.environ)
    lease_res = kube.resource("coordination.k8s.io/v1", "Lease")
    ns, lease = sync_config.inventory_namespace, f"{sync_config.name}-leader"
    first = subprocess.Popen(
        csops_sync(sync_config, *args), stderr=subprocess.PIPE, text=True, env=env
    )
    second = None
    try:
        eventually(
            lambda: (
                (kube.get_or_none(lease_res, ns, lease) or {}).get("spec", {}).get("holderIdentity")
            )
        )
        second = subprocess.Popen(
            csops_sync(sync_config, *args), stderr=subprocess.PIPE, text=True, env=env
        )
        holder = kube.get(lease_res, ns, lease)["spec"]["holderIdentity"]
        leader, standby = (first, second) if holder.endswith(f"_{first.pid}") else (second, first)
        assert holder.endswith(f"_{leader.pid}")
        res = kube.resource("v1", "ConfigMap")
        eventually(
            lambda: (
                kube.get_or_none(res, stacks_repo.namespace, "docker-alder-1-29-v1-node-images")
                is not None
            )
        )
        leader.send_signal(signal.SIGKILL)
        leader.wait()
        eventually(
            lambda: kube.get(lease_res, ns, lease)["spec"]["holderIdentity"].endswith(
                f"_{standby.pid}"
            ),
            20,
        )
        # the new leader writes: a hand delete is put back
        kube.delete(res, stacks_repo.namespace, "docker-alder-1-29-v1-node-images")
        eventually(
            lambda: (
                kube.get_or_none(res, stacks_repo.namespace, "docker-alder-1-29-v1-node-images")
                is not None
            )
        )
        standby_out = standby
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(15)
    assert "became leader" in (standby_out.stderr.read() if standby_out.stderr else "")
