"""A new Cluster gets its addons: ClusterAddon created, owned, status truthful, objects applied."""

from __future__ import annotations

import threading
import time

import pytest

from csops.controlplane.clusters import Clusters
from csops.syncer.addons.controller import AddonController
from csops.syncer.kube import Kube
from tests.addons.conftest import condition, ready
from tests.polling import eventually

pytestmark = pytest.mark.integration

OWNED = "clusterstack.x-k8s.io/instance"


def _get(kube: Kube, api_version: str, kind: str, name: str, namespace: str | None = "kube-system"):
    resource = kube.resource(api_version, kind)
    return kube.get_or_none(resource, namespace if resource.namespaced else None, name)


def test_new_clusters_get_their_addons(
    controller: AddonController, clusters: Clusters, workload: Kube
) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=controller.run, args=(stop,), daemon=True)
    thread.start()
    try:
        timings = {}
        for name, class_name, version in (
            ("birch", "openstack-birch-1-31-v1", "v1.31.6"),
            ("alder", "docker-alder-1-29-v1", "v1.29.4"),
        ):
            started = time.monotonic()
            cluster = clusters.create(name, class_name, version)
            addon = eventually(
                lambda n=name: (a := clusters.addon(n)) and ready(a) and a,
                timeout=30,
                what=f"addons of {name} ready",
            )
            timings[class_name] = time.monotonic() - started
            assert addon["spec"]["clusterStack"] == class_name
            assert addon["spec"]["version"] == "v1"
            assert addon["spec"]["hook"] == ""
            assert addon["spec"]["clusterRef"]["name"] == name
            owner = addon["metadata"]["ownerReferences"][0]
            assert (owner["kind"], owner["name"], owner["uid"]) == (
                "Cluster",
                name,
                cluster["metadata"]["uid"],
            )
            assert condition(addon, "Ready")["status"] == "True"
            assert condition(addon, "HelmChartApplied")["status"] == "True"
            resources = addon["status"]["resources"]
            assert resources and all(r["status"] == "synced" for r in resources)
        print(f"\ntime from Cluster created to addons ready: {timings}")

        birch = clusters.addon("birch")
        assert [(s["name"], s["phase"]) for s in birch["status"]["stages"]] == [
            ("cni", "done"),
            ("ccm", "done"),
            ("metrics-server", "done"),
        ]
        assert birch["metadata"]["annotations"]["ClusterAddonStage"] == "created"
        ds = _get(workload, "apps/v1", "DaemonSet", "kube-flannel-ds")
        assert ds["metadata"]["labels"][OWNED] == "owned"
        assert ds["spec"]["template"]["metadata"]["labels"][OWNED] == "owned"
        managers = {m["manager"] for m in ds["metadata"]["managedFields"]}
        assert "csops" in managers
        ccm = _get(workload, "apps/v1", "DaemonSet", "openstack-cloud-controller-manager")
        assert "--cluster-name=birch" in str(ccm["spec"]) or "birch" in str(ccm["spec"])
        info = _get(workload, "v1", "ConfigMap", "cluster-addon-cluster-info")
        assert "alder" in str(info["data"]) and "203.0.113.7" in str(info["data"])
        assert _get(workload, "rbac.authorization.k8s.io/v1", "ClusterRole", "kindnet", None)

        # drift: a hand edit is put back on the next pass; a steady pass writes nothing
        resource = workload.resource("apps/v1", "DaemonSet")
        ds["metadata"]["labels"][OWNED] = "tampered"
        workload.replace(resource, ds)
        controller.wake()
        eventually(
            lambda: (
                _get(workload, "apps/v1", "DaemonSet", "kube-flannel-ds")["metadata"]["labels"][
                    OWNED
                ]
                == "owned"
            ),
            timeout=15,
            what="drift corrected",
        )
    finally:
        stop.set()
        thread.join(timeout=10)


def test_waits_for_control_plane(
    controller: AddonController, clusters: Clusters, workload: Kube
) -> None:
    clusters.create("late", "openstack-birch-1-31-v1", "v1.31.6", initialized=False)
    controller.reconcile_once()
    addon = clusters.addon("late")
    assert addon is not None and not ready(addon)
    cond = condition(addon, "ClusterReady")
    assert (cond["status"], cond["reason"]) == ("False", "ControlPlaneNotReady")
    assert _get(workload, "apps/v1", "DaemonSet", "kube-flannel-ds") is None
    clusters.initialize("late")
    controller.reconcile_once()
    assert ready(clusters.addon("late"))
    assert _get(workload, "apps/v1", "DaemonSet", "kube-flannel-ds") is not None


def test_cli_once(clusters: Clusters, workload: Kube, releases, control_plane, tmp_path) -> None:
    from click.testing import CliRunner

    from csops.cli import cli

    clusters.create("cli", "docker-alder-1-29-v1", "v1.29.4")
    args = [
        "addons",
        "--releases",
        str(releases),
        "--kubeconfig",
        str(control_plane.kubeconfig_for("csops")),
        "--namespace",
        clusters.namespace,
        "--once",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert ready(clusters.addon("cli"))
    from tests.addons.conftest import serving_cert

    cert, _, _ = serving_cert(tmp_path)
    result = CliRunner().invoke(
        cli,
        [
            "addons",
            "--releases",
            str(releases),
            "--hook-cert",
            str(cert),
            "--print-extension-config",
            "https://h:9442",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "kind: ExtensionConfig" in result.output and "url: https://h:9442" in result.output
