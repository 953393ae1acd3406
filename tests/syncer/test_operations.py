"""Operating csops like Flux and kubectl, on the real API server: kubectl's names, readiness
of a standby replica, metrics after a pass, per-ClusterStack Events and status, a
ClusterStack applied by hand, ``csops status --watch``, ``diff --cluster`` keeping what is in
use, ``--context``, and one clear line for a busy port or a bad certificate."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from csops.controlplane import ControlPlane
from csops.syncer.application import Application
from csops.syncer.clock import SYSTEM, timestamp
from csops.syncer.controller import sync_once
from csops.syncer.diff import cluster_diff
from csops.syncer.errors import ApiError
from csops.syncer.inventory import InventoryStore
from csops.syncer.kube import Kube
from csops.syncer.settings import Settings
from tests.polling import eventually
from tests.syncer.conftest import StacksRepo
from tests.syncer.test_sync_processes import Lines
from tests.syncer.test_sync_prune import make_cluster, replace_release

CLI = "from csops.cli import main; main()"
#: Ctrl-C raises KeyboardInterrupt, as at a terminal, even when the suite runs as a background
#: job: such a job inherits SIGINT ignored, and Python keeps an inherited ignore.
CTRL_C = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "

pytestmark = pytest.mark.integration

GROUP = "clusterstack.x-k8s.io"
STACKS = f"{GROUP}/v1alpha1"
STACK = "docker-alder-1-29"
OLD, NEW = "docker-alder-1-29-v1", "docker-alder-1-29-v2"
NODE_IMAGES = f"{OLD}-node-images"
KUBECTL = Path(sys.executable).parent / "kubectl"


def csops(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from csops.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **kwargs,
    )


def kubectl(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KUBECTL), "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def events(kube: Kube, namespace: str, name: str, reason: str) -> list[dict[str, Any]]:
    """The Events csops recorded on ClusterStack ``name`` with ``reason``."""
    items = kube.list(kube.resource("v1", "Event"), namespace=namespace).items
    return [
        e
        for e in items
        if e["involvedObject"].get("kind") == "ClusterStack"
        and e["involvedObject"].get("name") == name
        and e.get("reason") == reason
    ]


def inventory(settings: Settings) -> list[str]:
    """The flags naming the test's inventory."""
    return ["--name", settings.name, "--inventory-namespace", settings.inventory_namespace]


def stack(kube: Kube, namespace: str, name: str = STACK) -> dict[str, Any]:
    return kube.get(kube.resource(STACKS, "ClusterStack"), namespace, name)


def edit_node_images(kube: Kube, namespace: str) -> None:
    """A hand edit of a managed object of release ``OLD`` (ClusterStack ``STACK``)."""
    res = kube.resource("v1", "ConfigMap")
    live = kube.get(res, namespace, NODE_IMAGES)
    live["data"]["node-images.yaml"] = "edited by hand"
    kube.replace(res, live)


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def sample(metrics: str, metric: str, **labels: str) -> float | None:
    """One sample's value from a Prometheus text exposition."""
    wanted = metric + (
        "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}" if labels else ""
    )
    for line in metrics.splitlines():
        if not line.startswith("#") and line.rpartition(" ")[0] == wanted:
            return float(line.rpartition(" ")[2])
    return None


def metrics_when(base: str, check: Callable[[str], bool]) -> str:
    """The ``/metrics`` text at ``base`` once ``check`` holds for it."""

    def fetch() -> str | None:
        text = get(f"{base}/metrics")[1]
        return text if check(text) else None

    found = eventually(fetch, 30, "the metrics")
    assert found is not None
    return found


# ------------------------------------------------------------------ kubectl


def test_kubectl_gets_clusterstacks_by_singular_plural_and_short_name(
    kube: Kube, stacks_repo: StacksRepo, sync_config: Settings, control_plane: ControlPlane
) -> None:
    assert sync_once(sync_config, kube).ok
    ns, admin = stacks_repo.namespace, control_plane.kubeconfig_path
    for name in ("clusterstack", "clusterstacks", "csk", "clusterstack.clusterstack.x-k8s.io"):
        done = kubectl(admin, "get", name, "-n", ns, STACK, "-o", "name")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"clusterstack.{GROUP}/{STACK}"
    for name in ("clusterstackrelease", "clusterstackreleases", "cskr"):
        done = kubectl(admin, "get", name, "-n", ns, OLD, "-o", "name")
        assert done.returncode == 0, done.stderr
    for name in ("clusteraddon", "clusteraddons", "caddon"):
        done = kubectl(admin, "get", name, "-n", ns)
        assert done.returncode == 0, done.stderr
    table = kubectl(admin, "get", "csk", "-n", ns, STACK)
    assert table.returncode == 0 and "USABLE" in table.stdout and "v1" in table.stdout
    category = kubectl(admin, "get", "cluster-api", "-n", ns, "-o", "name")
    assert category.returncode == 0, category.stderr
    assert f"clusterstack.{GROUP}/{STACK}" in category.stdout.split()
    assert f"clusterclass.cluster.x-k8s.io/{OLD}" in category.stdout.split()


# ------------------------------------------------------------------ readiness and metrics


@pytest.fixture
def replicas(sync_config: Settings, kube: Kube) -> Iterator[list[Application]]:
    """Two replicas of one sync, each with its own endpoints, holding one Lease."""
    apps, threads = [], []
    for identity in ("replica-a", "replica-b"):
        settings = replace(
            sync_config,
            interval=300.0,
            listen=("127.0.0.1", 0),
            leader_elect=True,
            lease_duration=4.0,
            identity=identity,
            cache_dir=sync_config.cache_dir / identity,
            addons=None,
        )
        app = Application(settings)
        app.build()
        thread = threading.Thread(target=app.serve, daemon=True)
        thread.start()
        apps.append(app)
        threads.append(thread)
    yield apps
    for app in apps:
        app.stop()
    for thread in threads:
        thread.join(15)


def test_standby_replica_is_ready_and_metrics_tell_how_the_pass_went(
    replicas: list[Application], kube: Kube, stacks_repo: StacksRepo, sync_config: Settings
) -> None:
    def leader() -> Application | None:
        return next((a for a in replicas if a.controller and a.controller.is_leader()), None)

    active = eventually(leader, 30, "a leader")
    standby = next(a for a in replicas if a is not active)
    assert active.controller is not None and standby.controller is not None
    eventually(lambda: active.controller.last_result is not None, 60, "the first pass")
    for app in replicas:
        assert app.endpoints is not None
        assert get(f"http://127.0.0.1:{app.endpoints.port}/readyz") == (200, "ok\n")
    assert standby.controller.last_result is None  # it never synced, and it is ready

    assert active.endpoints is not None and standby.endpoints is not None
    base = f"http://127.0.0.1:{active.endpoints.port}"
    metrics = metrics_when(base, lambda m: sample(m, "csops_leader") == 1)
    members = len(
        InventoryStore(kube, sync_config.name, sync_config.inventory_namespace).read().members
    )
    assert members > 25 and sample(metrics, "csops_objects_managed") == members
    assert (sample(metrics, "csops_sync_last_success_timestamp_seconds") or 0) > 1.7e9
    last = active.controller.last_result
    assert last is not None
    held = len(last.held)  # class objects waiting for their node images are not applied yet
    assert sample(metrics, "csops_objects_applied_total") == members - held  # all others created
    ns = stacks_repo.namespace
    ready = {"namespace": ns, "name": STACK, "type": "Ready"}
    assert sample(metrics, "csops_clusterstack_condition", **ready, status="True") == 1
    assert sample(metrics, "csops_clusterstack_condition", **ready, status="False") == 0
    for kind in ("fetch", "revision", "api", "apply", "prune", "health", "status"):
        assert sample(metrics, "csops_sync_errors_total", kind=kind) == 0
    assert (sample(metrics, "process_resident_memory_bytes") or 0) > 0
    standby_metrics = get(f"http://127.0.0.1:{standby.endpoints.port}/metrics")[1]
    assert sample(standby_metrics, "csops_leader") == 0

    # a broken revision: the pass fails, both replicas stay ready, the metrics say why
    broken = stacks_repo.manifests / ns / "configmap" / "broken.yaml"
    broken.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n")
    stacks_repo.commit("a ConfigMap without a name")
    active.controller.request_sync()
    metrics = metrics_when(
        base, lambda m: bool(sample(m, "csops_sync_errors_total", kind="revision"))
    )
    assert sample(metrics, "csops_sync_errors_total", kind="revision") == 1
    for app in replicas:
        assert app.endpoints is not None
        assert get(f"http://127.0.0.1:{app.endpoints.port}/readyz")[0] == 200


# ------------------------------------------------------------------ Events and status


def test_events_and_status_after_drift_kept_in_use_and_prune(
    kube: Kube, stacks_repo: StacksRepo, sync_config: Settings, other_namespace: str
) -> None:
    ns = stacks_repo.namespace
    assert sync_once(sync_config, kube).ok
    synced = events(kube, ns, STACK, "Synced")
    assert synced and "applied" in synced[0]["message"]
    assert not events(kube, ns, "docker-alder-1-30", "DriftCorrected")

    edit_node_images(kube, ns)
    before = timestamp(SYSTEM)
    result = sync_once(sync_config, kube)
    assert result.ok and {o.name for o in result.drifted} == {NODE_IMAGES}
    [drift] = events(kube, ns, STACK, "DriftCorrected")
    assert drift["type"] == "Warning" and f"ConfigMap {ns}/{NODE_IMAGES}" in drift["message"]
    assert not events(kube, ns, "docker-alder-1-30", "DriftCorrected")  # not its object
    status = stack(kube, ns)["status"]
    assert status["drift"]["corrections"] == 1
    assert status["drift"]["lastObjects"] == [f"ConfigMap {ns}/{NODE_IMAGES}"]
    # the drift is this pass's (its time is the pass's; lastSyncTime is the status write's)
    assert before <= status["drift"]["lastTime"] <= status["lastSyncTime"]

    make_cluster(kube, other_namespace, "workload", OLD, ns)
    replace_release(stacks_repo, OLD, NEW)
    stacks_repo.commit("alder 1.29: v2 replaces v1")
    assert sync_once(sync_config, kube).ok
    [kept] = events(kube, ns, STACK, "KeptInUse")
    assert f"{other_namespace}/workload" in kept["message"] and OLD in kept["message"]
    assert stack(kube, ns)["status"]["keptInUse"] == [
        {"release": OLD, "clusters": [f"{other_namespace}/workload"]}
    ]
    assert not events(kube, ns, STACK, "DriftCorrected")[1:]  # v2's objects are not drift

    clusters = kube.resource("cluster.x-k8s.io/v1beta1", "Cluster")

    def moved() -> bool:
        live = kube.get(clusters, other_namespace, "workload")
        live["spec"]["topology"]["class"] = NEW
        try:
            kube.replace(clusters, live)
        except ApiError as exc:
            if exc.status != 409:  # Cluster API's controllers wrote the Cluster in between
                raise
            return False
        return True

    eventually(moved, what="the Cluster moved to v2")
    result = sync_once(sync_config, kube)
    assert result.ok and result.pruned
    [pruned] = events(kube, ns, STACK, "Pruned")
    assert f"ClusterClass.cluster.x-k8s.io {ns}/{OLD}" in pruned["message"]
    assert stack(kube, ns)["status"]["keptInUse"] == []


def test_clusterstack_applied_by_hand_is_marked_and_never_deleted(
    kube: Kube, stacks_repo: StacksRepo, sync_config: Settings
) -> None:
    ns = stacks_repo.namespace
    res = kube.resource(STACKS, "ClusterStack")
    body = yaml.safe_load(
        (stacks_repo.manifests / ns / f"clusterstack.{GROUP}" / f"{STACK}.yaml").read_text()
    )
    body["metadata"] = {"name": "docker-alder-1-28", "namespace": ns}
    body["spec"]["kubernetesVersion"] = "1.28"
    kube.create(res, body)
    result = sync_once(sync_config, kube)
    assert result.ok and (ns, "docker-alder-1-28") in result.unmanaged
    live = kube.get(res, ns, "docker-alder-1-28")
    conditions = {c["type"]: c for c in live["status"]["conditions"]}
    managed = conditions["ManagedFromGit"]
    assert managed["status"] == "False" and managed["reason"] == "NotInRepository"
    assert "clusterstacks/docker-alder-1-28.yaml" in managed["message"]
    assert conditions["Ready"]["reason"] == "NotManagedFromGit"
    version = live["metadata"]["resourceVersion"]
    assert sync_once(sync_config, kube).ok
    again = kube.get(res, ns, "docker-alder-1-28")  # still there, and no write this time
    assert again["metadata"]["resourceVersion"] == version


def test_status_shows_each_clusterstack_and_watch_prints_changes(
    kube: Kube, stacks_repo: StacksRepo, sync_config: Settings
) -> None:
    ns = stacks_repo.namespace
    assert sync_once(sync_config, kube).ok
    common = ["--kubeconfig", str(sync_config.kubeconfig), *inventory(sync_config), "-n", ns]
    done = csops("status", *common, "-o", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["ok"] and data["revision"].startswith("main@sha1:")
    views = {v["name"]: v for v in data["clusterStacks"]}
    assert set(views) == {"docker-alder-1-29", "docker-alder-1-30", "openstack-birch-1-31"}
    assert views[STACK]["ready"] == "True" and views[STACK]["usableVersions"] == "v1"
    assert views[STACK]["managedFromGit"] and views[STACK]["lastSyncTime"]
    assert yaml.safe_load(csops("status", *common, "-o", "yaml").stdout)["objects"] > 25

    process = subprocess.Popen(
        # faulthandler: should Ctrl-C not stop it, SIGABRT shows where every thread waits.
        [sys.executable, "-X", "faulthandler", "-c", CTRL_C + CLI, "status", "--watch", *common],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    out, err = Lines(process.stdout), Lines(process.stderr)
    try:
        eventually(lambda: STACK in "".join(out.lines), 30, "the first table")
        first = "".join(out.lines)
        assert "NAMESPACE" in first and "LAST SYNC" in first and "DRIFT" in first
        edit_node_images(kube, ns)
        assert sync_once(sync_config, kube).ok
        eventually(lambda: "drift: put back" in "".join(out.lines), 30, "the watched change")
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGABRT)
            process.wait(15)
            pytest.fail(f"status --watch ignored Ctrl-C for 15 s; its threads:\n{err.text()}")
    watched = "".join(out.lines)[len(first) :]
    rows = [line for line in watched.splitlines() if line.startswith(ns) and STACK in line]
    row = rows[-1]
    assert row.split()[-1] == "1"  # DRIFT
    assert f"ConfigMap {ns}/{NODE_IMAGES}" in watched
    assert "Traceback" not in err.text()


def test_diff_cluster_says_what_sync_keeps_and_why(
    kube: Kube, stacks_repo: StacksRepo, sync_config: Settings, other_namespace: str
) -> None:
    ns = stacks_repo.namespace
    assert sync_once(sync_config, kube).ok
    make_cluster(kube, other_namespace, "workload", OLD, ns)
    replace_release(stacks_repo, OLD, NEW)
    report = cluster_diff(
        stacks_repo.manifests,
        kube,
        name=sync_config.name,
        inventory_namespace=sync_config.inventory_namespace,
    )
    kept = {d.id.name: d.reason for d in report.kept}
    assert kept[OLD] == f"in use by {other_namespace}/workload"
    assert OLD not in {d.id.name for d in report.removed}
    # what sync then does: exactly what the diff said
    stacks_repo.commit("alder 1.29: v2 replaces v1")
    result = sync_once(sync_config, kube)
    assert result.prune is not None
    in_use = {name for name, reason in kept.items() if reason.startswith("in use")}
    assert {o.name for o in result.prune.kept_in_use} == in_use


# ------------------------------------------------------------------ the command line


def two_contexts(control_plane: ControlPlane, tmp_path: Path) -> Path:
    """A kubeconfig whose current context points at a closed port; ``plane`` works."""
    config = yaml.safe_load(control_plane.kubeconfig_for("csops").read_text())
    cluster = config["clusters"][0]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    dead = {**cluster, "name": "dead", "cluster": {**cluster["cluster"]}}
    dead["cluster"]["server"] = f"https://127.0.0.1:{closed}"
    user = config["users"][0]["name"]
    config["clusters"] = [cluster, dead]
    config["contexts"] = [
        {"name": "plane", "context": {"cluster": cluster["name"], "user": user}},
        {"name": "dead", "context": {"cluster": "dead", "user": user}},
    ]
    config["current-context"] = "dead"
    path = tmp_path / "two-contexts.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def test_context_option_picks_the_kubeconfig_context(
    kube: Kube,
    stacks_repo: StacksRepo,
    sync_config: Settings,
    control_plane: ControlPlane,
    tmp_path: Path,
) -> None:
    kubeconfig = two_contexts(control_plane, tmp_path)
    names = inventory(sync_config)
    done = csops(
        "sync",
        stacks_repo.url,
        "--branch",
        "main",
        "--once",
        "--no-addons",
        "--kubeconfig",
        str(kubeconfig),
        "--context",
        "plane",
        "--cache-dir",
        str(tmp_path / "cache"),
        *names,
    )
    assert done.returncode == 0, done.stderr
    ok = csops("status", "--kubeconfig", str(kubeconfig), "--context", "plane", *names)
    assert ok.returncode == 0 and "last pass synced" in ok.stdout, ok.stderr
    missing = csops("status", "--kubeconfig", str(kubeconfig), "--context", "nope", *names)
    assert missing.returncode == 1
    assert "context 'nope'" in missing.stderr and "Traceback" not in missing.stderr


def test_busy_listen_and_bad_hook_certificate_are_one_clear_line(
    stacks_repo: StacksRepo, sync_config: Settings, tmp_path: Path
) -> None:
    base = [
        "sync",
        stacks_repo.url,
        "--kubeconfig",
        str(sync_config.kubeconfig),
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = csops(*base, "--listen", f"127.0.0.1:{port}")
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert f"127.0.0.1:{port} (--listen)" in line and "in use" in line

    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    hooks = ["--hook-listen", "127.0.0.1:0", "--hook-cert", str(bad), "--hook-key", str(bad)]
    done = csops(*base, *hooks)
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert "--hook-cert" in line and str(bad) in line and "Traceback" not in done.stderr

    done = csops(
        "addons", "--releases", str(tmp_path), "--kubeconfig", str(sync_config.kubeconfig), *hooks
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    [line] = [line for line in done.stderr.splitlines() if " error " in line]
    assert "--hook-cert" in line

    usage = csops("sync", "--once")
    assert usage.returncode == 2 and "missing REPO" in usage.stderr
    port_alias = csops("sync", stacks_repo.url, "--listen", "8080")
    assert port_alias.returncode == 2 and "HOST:PORT" in port_alias.stderr


def test_deprecated_repo_option_still_works(
    kube: Kube, stacks_repo: StacksRepo, sync_config: Settings, tmp_path: Path
) -> None:
    done = csops(
        "sync",
        "--repo",
        stacks_repo.url,
        "--branch",
        "main",
        "--once",
        "--no-addons",
        "--kubeconfig",
        str(sync_config.kubeconfig),
        *inventory(sync_config),
        "--cache-dir",
        str(tmp_path / "cache"),
        "-v",
    )
    assert done.returncode == 0, done.stderr
    assert "--repo is deprecated" in done.stderr
    synced = [line for line in done.stderr.splitlines() if " synced " in line]
    assert synced and synced[0][:4].isdigit() and synced[0].split()[1] == "info"
