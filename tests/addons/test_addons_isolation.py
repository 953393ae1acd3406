"""Class changes without a version change; per-cluster isolation: an unreachable workload
cluster and a broken addon chart fail only their own ClusterAddon."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from csops.controlplane import ControlPlane
from csops.controlplane.clusters import OWNED, Clusters
from csops.controlplane.ports import free_port
from csops.syncer.addons.controller import AddonController
from csops.syncer.kube import Kube
from tests.addons.conftest import condition, fast_options, ready
from tests.polling import eventually

pytestmark = pytest.mark.integration

ALDER_V1, ALDER_V2 = "docker-alder-1-29-v1", "docker-alder-1-29-v2"


def _owned_versions(workload: Kube) -> dict[tuple[str, str], str]:
    found = {}
    for api_version, kind in (
        ("v1", "ConfigMap"),
        ("apps/v1", "DaemonSet"),
        ("v1", "ServiceAccount"),
    ):
        for item in workload.list(workload.resource(api_version, kind), label_selector=OWNED).items:
            found[(kind, item["metadata"]["name"])] = item["metadata"]["resourceVersion"]
    return found


def test_class_change_without_version_change_records_the_class_only(
    controller: AddonController, clusters: Clusters, workload: Kube
) -> None:
    clusters.create("alder", ALDER_V1, "v1.29.4")
    controller.reconcile_once()
    assert ready(clusters.addon("alder"))
    before = _owned_versions(workload)
    assert before

    clusters.set_class("alder", ALDER_V2, "v1.29.4")  # class-only release: addons stay v1
    result = controller.reconcile_once()[f"{clusters.namespace}/alder"]
    assert "unchanged addons" in result.message
    addon = clusters.addon("alder")
    assert (addon["spec"]["clusterStack"], addon["spec"]["version"]) == (ALDER_V2, "v1")
    assert ready(addon)
    assert _owned_versions(workload) == before, "the workload cluster is not touched"


def test_unreachable_workload_cluster_retries_without_blocking_others(
    mgmt: Kube,
    releases: Path,
    clusters: Clusters,
    workload: Kube,
    workload_control_plane: ControlPlane,
) -> None:
    good = workload_control_plane.kubeconfig_path.read_text()
    dead = re.sub(r"(server: https://127\.0\.0\.1:)\d+", rf"\g<1>{free_port()}", good)
    assert dead != good
    clusters.create("down", ALDER_V1, "v1.29.4", kubeconfig=dead.encode())
    clusters.create("up", ALDER_V1, "v1.29.4")
    controller = AddonController(mgmt, releases, fast_options(clusters.namespace))
    stop = threading.Event()
    thread = threading.Thread(target=controller.run, args=(stop,), daemon=True)
    thread.start()
    try:
        eventually(lambda: ready(clusters.addon("up")), what="the reachable cluster's addons")
        eventually(
            lambda: (
                condition(clusters.addon("down"), "ClusterReady").get("reason")
                == "WorkloadClusterUnreachable"
            ),
            what="unreachable reported",
        )
        down = clusters.addon("down")
        assert not ready(down)
        assert "does not answer" in condition(down, "ClusterReady")["message"]
        assert condition(down, "Ready")["reason"] == "WorkloadClusterUnreachable"

        clusters.secret("down")  # the workload cluster becomes reachable: retried with backoff
        eventually(
            lambda: ready(clusters.addon("down")),
            timeout=30,
            what="addons after the cluster came back",
        )
        assert condition(clusters.addon("down"), "ClusterReady")["status"] == "True"
    finally:
        stop.set()
        thread.join(timeout=10)
        controller.clients.close()


def test_broken_chart_fails_only_its_cluster(
    mgmt: Kube,
    releases_copy: Path,
    clusters: Clusters,
    workload: Kube,
    workload_control_plane: ControlPlane,
) -> None:
    broken = releases_copy / "docker-alder-1-30-v1/cluster-addon/templates/kindnet.yaml"
    broken.write_text(broken.read_text() + "\n{{ .Values.no.such.value }}\n")
    bad_user = workload_control_plane.kubeconfig_for("broken-cluster").read_bytes()
    clusters.create("good", ALDER_V1, "v1.29.4")
    clusters.create("bad", "docker-alder-1-30-v1", "v1.30.2", kubeconfig=bad_user)
    controller = AddonController(mgmt, releases_copy, fast_options(clusters.namespace))
    audit = workload_control_plane.audit
    with audit.window() as window:
        results = controller.reconcile_once()
    controller.clients.close()
    assert results[f"{clusters.namespace}/good"].ready
    assert results[f"{clusters.namespace}/bad"].error
    assert ready(clusters.addon("good"))
    bad = clusters.addon("bad")
    assert not ready(bad)
    cond = condition(bad, "HelmChartTemplated")
    assert (cond["status"], cond["reason"]) == ("False", "HelmChartTemplateFailed")
    assert "docker-alder-1-30-v1" in cond["message"] and "kindnet.yaml" in cond["message"]
    assert condition(bad, "Ready")["reason"] == "HelmChartTemplateFailed"
    assert bad["status"]["resources"] == []
    assert window.writes(user="broken-cluster") == []
