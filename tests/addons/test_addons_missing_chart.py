"""A stage naming a chart the release lacks is skipped, as CSO skips it, and the ClusterAddon
says so: ``HelmChartFound=False`` with reason ``HelmChartMissing``; the other stages apply."""

from __future__ import annotations

from pathlib import Path

import pytest

from csops.controlplane.clusters import Clusters
from csops.syncer.addons.controller import AddonController
from csops.syncer.kube import Kube
from tests.addons.conftest import condition, fast_options, ready

pytestmark = pytest.mark.integration

BIRCH_V1 = "openstack-birch-1-31-v1"


def test_stage_without_chart_is_skipped_and_reported(
    mgmt: Kube, releases_copy: Path, clusters: Clusters, workload: Kube
) -> None:
    config = releases_copy / BIRCH_V1 / "clusteraddon.yaml"
    config.write_text(
        config.read_text().replace(
            "    - name: ccm\n      action: apply\n    - name: metrics-server",
            "    - name: ccm\n      action: apply\n    - name: ngnix\n      action: apply\n"
            "    - name: metrics-server",
            1,
        )
    )
    assert "name: ngnix" in config.read_text()
    clusters.create("birch", BIRCH_V1, "v1.31.6")
    controller = AddonController(mgmt, releases_copy, fast_options(clusters.namespace))
    try:
        controller.reconcile_once()
    finally:
        controller.clients.close()
    addon = clusters.addon("birch")
    found = condition(addon, "HelmChartFound")
    assert (found["status"], found["reason"]) == ("False", "HelmChartMissing"), found
    assert "ngnix" in found["message"]
    assert [(s["name"], s["phase"]) for s in addon["status"]["stages"]] == [
        ("cni", "done"),
        ("ccm", "done"),
        ("ngnix", "done"),
        ("metrics-server", "done"),
    ]
    assert ready(addon)
    deployments = workload.resource("apps/v1", "Deployment")
    assert workload.get_or_none(deployments, "kube-system", "metrics-server") is not None
