"""`csops sync` applies the addons too: the ClusterStacks of the synced revision and each
workload cluster's addons from that revision's releases/ — one-shot and continuously; a stage
whose condition never holds fails after the stage timeout; Events on the ClusterAddon."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from csops.controlplane import ControlPlane
from csops.controlplane.clusters import Clusters
from csops.syncer.addons.controller import AddonController
from csops.syncer.addons.sidecar import AddonSidecar
from csops.syncer.controller import Controller
from csops.syncer.kube import Kube
from csops.syncer.leader import LeaderElector
from csops.syncer.settings import Settings
from csops.syncer.source import open_source
from tests.addons.conftest import condition, fast_options, ready
from tests.polling import eventually
from tests.syncer.conftest import git, rendered_stacks

pytestmark = pytest.mark.integration

ALDER, BIRCH = "docker-alder-1-29-v1", "openstack-birch-1-31-v1"
NEVER = "csops-test-never-there"


@dataclass
class Repo:
    """The example stacks rendered for one namespace, pushed to a bare git remote."""

    url: str
    namespace: str
    cache: Path


@pytest.fixture
def repo(tmp_path: Path, namespace: str) -> Repo:
    work = rendered_stacks(tmp_path / "work", namespace)
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    git(work, "init", "-q", "-b", "main")
    git(work, "remote", "add", "origin", remote.as_uri())
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "example stacks")
    git(work, "push", "-q", "origin", "HEAD:main")
    return Repo(remote.as_uri(), namespace, tmp_path / "cache")


def sync_args(repo: Repo, kubeconfig: Path, *extra: str) -> list[str]:
    return [
        "sync",
        repo.url,
        "--branch",
        "main",
        "--kubeconfig",
        str(kubeconfig),
        "--name",
        f"csops-{repo.namespace}",
        "--inventory-namespace",
        repo.namespace,
        "--cache-dir",
        str(repo.cache),
        "--addons-namespace",
        repo.namespace,
        *extra,
    ]


def events_of(kube: Kube, namespace: str, name: str) -> list[dict[str, Any]]:
    resource = kube.resource("v1", "Event")
    return [
        e
        for e in kube.list(resource, namespace=namespace).items
        if (e.get("involvedObject") or {}).get("name") == name
    ]


def reasons(kube: Kube, namespace: str, name: str) -> set[str]:
    return {str(e.get("reason")) for e in events_of(kube, namespace, name)}


def test_sync_once_syncs_the_stacks_and_applies_the_addons(
    repo: Repo, clusters: Clusters, workload: Kube, control_plane: ControlPlane, mgmt: Kube
) -> None:
    from csops.cli import cli

    started = time.monotonic()
    clusters.create("once", ALDER, "v1.29.4")
    result = CliRunner().invoke(
        cli, sync_args(repo, control_plane.kubeconfig_for("csops"), "--once")
    )
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    stacks = mgmt.list(
        mgmt.resource("clusterstack.x-k8s.io/v1alpha1", "ClusterStack"), namespace=repo.namespace
    ).items
    ready_of = {s["metadata"]["name"]: condition(s, "Ready") for s in stacks}
    assert ready_of["docker-alder-1-29"].get("status") == "True", ready_of
    # node images first: birch's ClusterClass waits for its ORC Image, which nothing uploads here
    birch = ready_of["openstack-birch-1-31"]
    assert birch.get("status") == "False" and "waiting for node image" in birch["message"], birch
    addon = clusters.addon("once")
    assert ready(addon), addon
    assert addon["spec"]["clusterStack"] == ALDER
    kindnet = workload.resource("rbac.authorization.k8s.io/v1", "ClusterRole")
    assert workload.get_or_none(kindnet, None, "kindnet") is not None
    info = workload.get(
        workload.resource("v1", "ConfigMap"), "kube-system", "cluster-addon-cluster-info"
    )
    assert "once" in str(info["data"])
    assert "Applied" in reasons(mgmt, repo.namespace, "cluster-addon-once")
    print(f"\ncsops sync --once: Cluster created → addons ready in {elapsed:.2f}s")


def test_sync_no_addons_leaves_clusters_alone(
    repo: Repo, clusters: Clusters, control_plane: ControlPlane
) -> None:
    from csops.cli import cli

    clusters.create("untouched", ALDER, "v1.29.4")
    kubeconfig = control_plane.kubeconfig_for("csops")
    result = CliRunner().invoke(cli, sync_args(repo, kubeconfig, "--once", "--no-addons"))
    assert result.exit_code == 0, result.output
    assert clusters.addon("untouched") is None
    result = CliRunner().invoke(cli, sync_args(repo, kubeconfig, "--hook-listen", ":9442"))
    assert result.exit_code != 0 and "--hook-cert" in result.output


def _await_never_there(releases: Path) -> None:
    """birch v1's ccm stage waits for a ConfigMap nobody creates."""
    config = releases / BIRCH / "clusteraddon.yaml"
    text = config.read_text()
    stage = "    - name: ccm\n      action: apply\n"
    assert text.count(stage) >= 1
    wait = (
        "      waitForPreCondition:\n"
        "        objects:\n"
        "          - key: gate\n"
        "            apiVersion: v1\n"
        "            kind: ConfigMap\n"
        f"            name: {NEVER}\n"
        "            namespace: kube-system\n"
        "        conditions: gate.data.open == 'yes'\n"
    )
    config.write_text(text.replace(stage, stage + wait, 1))


def test_stage_wait_times_out_with_a_condition_and_a_new_revision_retries(
    mgmt: Kube, releases_copy: Path, clusters: Clusters, workload: Kube
) -> None:
    _await_never_there(releases_copy)
    controller = AddonController(
        mgmt, releases_copy, fast_options(clusters.namespace, stage_timeout=1.0), revision="r1"
    )
    try:
        clusters.create("stuck", BIRCH, "v1.31.6")
        controller.reconcile_once()
        addon = clusters.addon("stuck")
        assert condition(addon, "EvaluatedCEL")["reason"] == "WaitingForCondition"
        assert [s["phase"] for s in addon["status"]["stages"]] == [
            "done",
            "waitingForPreCondition",
            "Pending",
        ]

        def timed_out() -> dict[str, Any] | None:
            controller.reconcile_once()
            addon = clusters.addon("stuck")
            return addon if condition(addon, "Ready").get("reason") == "StageTimedOut" else None

        addon = eventually(timed_out, timeout=15, what="the stage to time out")
        cel = condition(addon, "EvaluatedCEL")
        assert (cel["status"], cel["reason"]) == ("False", "PreConditionTimedOut")
        assert "'ccm'" in cel["message"] and "within 1s" in cel["message"]
        assert "new revision" in condition(addon, "Ready")["message"]
        assert not ready(addon)
        failed = [
            e
            for e in events_of(mgmt, clusters.namespace, "cluster-addon-stuck")
            if e["reason"] == "Failed"
        ]
        assert len(failed) == 1 and failed[0]["type"] == "Warning"
        assert "pre-condition not met" in failed[0]["message"]

        # the condition now holds, but the failed run is not retried on the same revision
        workload.apply(
            workload.resource("v1", "ConfigMap"),
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": NEVER, "namespace": "kube-system"},
                "data": {"open": "yes"},
            },
        )
        controller.reconcile_once()
        assert condition(clusters.addon("stuck"), "Ready")["reason"] == "StageTimedOut"
        failed_again = [
            e
            for e in events_of(mgmt, clusters.namespace, "cluster-addon-stuck")
            if e["reason"] == "Failed"
        ]
        assert len(failed_again) == 1  # reported once, not per pass

        # a new revision retries: the stages go on from where they stopped
        assert controller.set_releases(releases_copy, "r2")
        controller.reconcile_once()
        addon = clusters.addon("stuck")
        assert ready(addon), addon["status"]
        assert [s["phase"] for s in addon["status"]["stages"]] == ["done"] * 3
        assert "Applied" in reasons(mgmt, clusters.namespace, "cluster-addon-stuck")
    finally:
        controller.clients.close()
        workload.delete(workload.resource("v1", "ConfigMap"), "kube-system", NEVER)


@pytest.fixture
def sync_loop(
    repo: Repo, control_plane: ControlPlane, namespace: str
) -> Iterator[tuple[Controller, AddonController]]:
    """The continuous sync loop with the addon sidecar, as ``csops sync`` wires it."""
    config = Settings(
        repo=repo.url,
        branch="main",
        kubeconfig=control_plane.kubeconfig_for("csops"),
        name=f"csops-{namespace}",
        inventory_namespace=namespace,
        cache_dir=repo.cache,
        interval=30.0,
    )
    loop_kube = Kube.from_kubeconfig(control_plane.kubeconfig_for("csops"))
    source = open_source(config.repo, config.branch, config.path, config.cache_dir)
    loop = Controller(config, loop_kube, source)
    kube = Kube.from_kubeconfig(control_plane.kubeconfig_for("csops"))
    # resync 60 s: only the watch can pick a new Cluster up within seconds
    addons = AddonController(kube, None, fast_options(namespace, tick=0.1, resync=60.0))
    sidecar = AddonSidecar(addons).attach(loop)
    sidecar.start(loop.stop)
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    try:
        yield loop, addons
    finally:
        loop.stop.set()
        loop.wake.set()
        thread.join(timeout=20)
        sidecar.join()
        kube.close()
        loop_kube.close()
        assert not thread.is_alive()


def test_continuous_sync_picks_up_a_new_cluster_through_the_watch(
    sync_loop: tuple[Controller, AddonController], clusters: Clusters, workload: Kube
) -> None:
    loop, addons = sync_loop
    eventually(lambda: addons.catalog is not None, 60, "the first sync to hand over its releases")
    assert addons.catalog is not None and loop.last_result is not None
    assert loop.last_error is None
    assert "/snapshots/" in str(addons.catalog.directory)  # the synced revision's releases/
    assert addons.revision == loop.last_result.revision
    timings = {}
    for name in ("first", "second"):
        started = time.monotonic()
        clusters.create(name, ALDER, "v1.29.4")
        eventually(lambda n=name: ready(clusters.addon(n)), 20, f"addons of {name} ready")
        timings[name] = time.monotonic() - started
    # the second Cluster came long after the watch started: it was picked up by the watch,
    # not by the 60 s re-list
    assert timings["second"] < 10, timings
    print(f"\ncontinuous sync: Cluster created → addons ready: {timings}")


def test_sidecar_follows_leadership(repo: Repo, control_plane: ControlPlane) -> None:
    config = Settings(repo=repo.url, branch="main", leader_elect=True, cache_dir=repo.cache)
    kube = Kube.from_kubeconfig(control_plane.kubeconfig_for("csops"))
    source = open_source(config.repo, config.branch, config.path, config.cache_dir)
    elector = LeaderElector(kube, "csops-leader", config.inventory_namespace, config.identity)
    loop = Controller(config, kube, source, elector=elector)
    try:
        addons = AddonController(kube, None)
        sidecar = AddonSidecar(addons).attach(loop)
        assert addons.options.may_run is not None
        assert loop.on_synced == [sidecar.on_synced]
        assert not addons.options.may_run()  # no Lease held yet: the sidecar must not write
        assert Controller(Settings(repo=repo.url), kube, source).is_leader()  # no election
    finally:
        kube.close()


def test_csops_sync_process_applies_addons_and_stops_on_sigterm(
    repo: Repo, clusters: Clusters, control_plane: ControlPlane, tmp_path: Path
) -> None:
    from tests.addons.conftest import serving_cert

    cert, key, _ = serving_cert(tmp_path)
    args = sync_args(
        repo,
        control_plane.kubeconfig_for("csops"),
        "--interval",
        "30",
        "--hook-listen",
        "127.0.0.1:0",
        "--hook-cert",
        str(cert),
        "--hook-key",
        str(key),
        "--log-format",
        "json",
    )
    log = tmp_path / "sync.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from csops.cli import main; main()", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            started = time.monotonic()
            clusters.create("proc", BIRCH, "v1.31.6")
            addon = eventually(
                lambda: (a := clusters.addon("proc")) and ready(a) and a, 60, "addons ready"
            )
            elapsed = time.monotonic() - started
            assert condition(addon, "HookServerReady")["status"] == "True"
            print(f"\ncsops sync (process): Cluster created → addons ready in {elapsed:.2f}s")
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(20)
    text = log.read_text()
    assert code == 0, text
    assert "serving CAPI runtime hooks" in text and "stopping" in text
    shutil.rmtree(repo.cache, ignore_errors=True)


def test_sync_once_reports_malformed_kubeconfig_secrets_without_a_traceback(
    repo: Repo, clusters: Clusters, control_plane: ControlPlane
) -> None:
    from csops.cli import cli

    clusters.create("listed", ALDER, "v1.29.4", kubeconfig=b"- not\n- a kubeconfig\n")
    clusters.create("garbled", ALDER, "v1.29.4", kubeconfig=b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    kubeconfig = control_plane.kubeconfig_for("csops")
    result = CliRunner().invoke(cli, sync_args(repo, kubeconfig, "--once"))
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1, result.output
    for name in ("listed", "garbled"):
        addon = clusters.addon(name)
        assert condition(addon, "ClusterReady").get("reason") == "KubeconfigInvalid", addon
        message = condition(addon, "ClusterReady").get("message", "")
        assert f"{name}-kubeconfig holds no usable kubeconfig" in message, message
