"""Upgrades through CAPI runtime hooks over HTTPS: stage order, CEL conditions, cleanup,
a gate that opens when the new addons are applied — or after a timeout, never forever."""

from __future__ import annotations

import json
import shutil
import ssl
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from csops.controlplane.clusters import Clusters
from csops.syncer.addons.controller import AddonController
from csops.syncer.addons.hooks import HOOKS_API, HookHandler, HookServer, extension_config
from csops.syncer.kube import Kube
from tests.addons.conftest import (
    condition,
    fast_options,
    ready,
    serving_cert,
)
from tests.fakes import WallClock
from tests.polling import eventually

pytestmark = pytest.mark.integration

V1, V2 = "openstack-birch-1-31-v1", "openstack-birch-1-31-v2"
ACPI = "aftercontrolplaneinitialized/csops-after-control-plane-initialized"
BCU = "beforeclusterupgrade/csops-before-cluster-upgrade"


@dataclass
class Hooks:
    url: str
    ca: bytes
    clock: WallClock
    controller: AddonController

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        context = ssl.create_default_context(cadata=self.ca.decode())
        request = urllib.request.Request(
            f"{self.url}/{HOOKS_API}/{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            assert response.status == 200
            return dict(json.loads(response.read()))

    def hook(self, hook: str, path: str, cluster: dict[str, Any], **extra: Any) -> dict[str, Any]:
        answer = self.post(
            path,
            {"apiVersion": HOOKS_API, "kind": f"{hook}Request", "cluster": cluster, **extra},
        )
        assert answer["apiVersion"] == HOOKS_API
        assert answer["kind"] == f"{hook}Response"
        assert answer["status"] == "Success", answer
        return answer

    def before_upgrade(self, cluster: dict[str, Any], old: str, new: str) -> dict[str, Any]:
        return self.hook(
            "BeforeClusterUpgrade",
            BCU,
            cluster,
            fromKubernetesVersion=old,
            toKubernetesVersion=new,
        )


@pytest.fixture
def hooks(
    mgmt: Kube, hook_kube: Kube, releases_copy: Path, namespace: str, tmp_path: Path
) -> Iterator[Hooks]:
    clock = WallClock()
    cert, key, ca = serving_cert(tmp_path)
    holder: dict[str, HookServer] = {}
    controller = AddonController(
        mgmt,
        releases_copy,
        fast_options(
            namespace,
            upgrade_timeout=300.0,
            hook_server_ready=lambda: holder["server"].ready(),  # noqa: PLW0108 - set later
        ),
        clock=clock,
    )
    handler = HookHandler(
        hook_kube,
        releases_copy,
        upgrade_timeout=300.0,
        retry_after=5,
        clock=clock,
        on_change=controller.wake,
    )
    server = HookServer(handler, cert, key, host="127.0.0.1", port=0).start()
    holder["server"] = server
    stop = threading.Event()
    thread = threading.Thread(target=controller.run, args=(stop,), daemon=True)
    thread.start()
    yield Hooks(f"https://127.0.0.1:{server.port}", ca, clock, controller)
    stop.set()
    thread.join(timeout=10)
    server.stop()


def _ds_status(workload: Kube, name: str, ready_count: int) -> None:
    workload.apply_status(
        workload.resource("apps/v1", "DaemonSet"),
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": name, "namespace": "kube-system"},
            "status": {
                "currentNumberScheduled": ready_count,
                "numberMisscheduled": 0,
                "desiredNumberScheduled": ready_count,
                "numberReady": ready_count,
            },
        },
    )


def _deploy_ready(workload: Kube, name: str) -> None:
    workload.apply_status(
        workload.resource("apps/v1", "Deployment"),
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": "kube-system"},
            "status": {"replicas": 1, "readyReplicas": 1},
        },
    )


def _phases(addon: dict[str, Any] | None) -> list[tuple[str, str, str]]:
    stages = ((addon or {}).get("status") or {}).get("stages") or []
    return [(s["name"], s["action"], s["phase"]) for s in stages]


def _exists(kube: Kube, api_version: str, kind: str, name: str, ns: str | None = None) -> bool:
    return kube.get_or_none(kube.resource(api_version, kind), ns, name) is not None


def _install_v1(hooks: Hooks, clusters: Clusters, name: str = "up") -> dict[str, Any]:
    cluster = clusters.create(name, V1, "v1.31.6", initialized=False)
    answer = hooks.hook("AfterControlPlaneInitialized", ACPI, cluster)
    assert "will be applied" in answer["message"]
    eventually(lambda: ready(clusters.addon(name)), what="v1 addons applied")
    return cluster


def test_discovery_and_extension_config(hooks: Hooks) -> None:
    answer = hooks.post("discovery", {"apiVersion": HOOKS_API, "kind": "DiscoveryRequest"})
    assert answer["kind"] == "DiscoveryResponse" and answer["status"] == "Success"
    assert {(h["requestHook"]["hook"], h["name"]) for h in answer["handlers"]} == {
        ("AfterControlPlaneInitialized", "csops-after-control-plane-initialized"),
        ("BeforeClusterUpgrade", "csops-before-cluster-upgrade"),
    }
    config = extension_config("csops-addons", hooks.url, hooks.ca)
    assert config["apiVersion"] == "runtime.cluster.x-k8s.io/v1alpha1"
    assert config["spec"]["clientConfig"]["url"] == hooks.url


def test_upgrade_applies_new_addons_in_stage_order_before_the_hook_says_go(
    hooks: Hooks, clusters: Clusters, workload: Kube
) -> None:
    _install_v1(hooks, clusters)
    addon = clusters.addon("up")
    assert condition(addon, "HookServerReady")["status"] == "True"
    crb = (
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        "system:openstack-cloud-controller-manager",
    )
    assert _exists(workload, *crb)

    clusters.set_class("up", V2, "v1.31.7")
    cluster = clusters.kube.get(clusters.cluster, clusters.namespace, "up")
    answer = hooks.before_upgrade(cluster, "v1.31.6", "v1.31.7")
    assert answer["retryAfterSeconds"] == 5, answer

    # stage 1 (cni) applied; its post-condition holds (a new DaemonSet reports 0 of 0 ready),
    # then stage 2 (ccm) is held by its pre-condition: flannel must report a ready pod
    eventually(
        lambda: (
            _phases(clusters.addon("up"))[:3]
            == [
                ("cni", "apply", "done"),
                ("ccm", "apply", "waitingForPreCondition"),
                ("metrics-server", "delete", "Pending"),
            ]
        ),
        what="ccm waiting for its pre-condition",
    )
    addon = clusters.addon("up")
    assert addon["spec"]["hook"] == "BeforeClusterUpgrade"
    assert not ready(addon)
    assert condition(addon, "EvaluatedCEL")["status"] == "False"
    assert "numberReady > 0" in condition(addon, "EvaluatedCEL")["message"]
    cm = workload.get(workload.resource("v1", "ConfigMap"), "kube-system", "kube-flannel-cfg")
    assert '"name": "cbr1"' in cm["data"]["cni-conf.json"]
    assert _exists(workload, *crb), "ccm stage must not have run yet"
    assert hooks.before_upgrade(cluster, "v1.31.6", "v1.31.7").get("retryAfterSeconds")

    # pre-condition met → ccm applied (its dropped ClusterRoleBinding deleted), metrics-server
    # deleted and re-applied, then held until the Deployment reports ready replicas
    _ds_status(workload, "kube-flannel-ds", 1)
    eventually(
        lambda: (
            _phases(clusters.addon("up"))[3:]
            == [("metrics-server", "apply", "waitingForPostCondition")]
        ),
        what="metrics-server waiting for ready replicas",
    )
    assert not _exists(workload, *crb), "objects v2 dropped are deleted"
    assert hooks.before_upgrade(cluster, "v1.31.6", "v1.31.7").get("retryAfterSeconds")
    _deploy_ready(workload, "metrics-server")

    eventually(lambda: ready(clusters.addon("up")), what="v2 addons applied")
    answer = hooks.before_upgrade(cluster, "v1.31.6", "v1.31.7")
    assert "retryAfterSeconds" not in answer and "applied" in answer["message"]
    addon = clusters.addon("up")
    assert (addon["spec"]["clusterStack"], addon["spec"]["version"], addon["spec"]["hook"]) == (
        V2,
        "v2",
        "",
    )
    assert addon["metadata"]["annotations"]["ClusterAddonStage"] == "upgraded"
    assert all(p == "done" for _, _, p in _phases(addon))
    events = clusters.kube.resource("v1", "Event")
    emitted = {
        str(e.get("reason"))
        for e in clusters.kube.list(events, namespace=clusters.namespace).items
        if (e.get("involvedObject") or {}).get("name") == addon["metadata"]["name"]
    }
    assert {"Applied", "UpgradeStarted", "UpgradeDone"} <= emitted, emitted
    names = {r["name"] for r in addon["status"]["resources"]}
    assert "system:openstack-cloud-controller-manager" in names  # the ClusterRole stays
    assert all(r["status"] == "synced" for r in addon["status"]["resources"])
    assert (
        sum(
            r["kind"] == "ClusterRoleBinding" and r["name"] == crb[2]
            for r in addon["status"]["resources"]
        )
        == 0
    )


def test_gate_times_out_with_a_condition_and_a_new_target_starts_fresh(
    hooks: Hooks, clusters: Clusters, workload: Kube, releases_copy: Path
) -> None:
    # v3 is a failed release: its CNI chart does not template
    v3 = releases_copy / "openstack-birch-1-31-v3"
    shutil.copytree(releases_copy / V2, v3)
    meta = v3 / "metadata.yaml"
    meta.write_text(meta.read_text().replace("v2", "v3"))
    (v3 / "cluster-addon/cni/templates/broken.yaml").write_text('{{ fail "broken on purpose" }}\n')

    _install_v1(hooks, clusters, "gated")
    clusters.set_class("gated", "openstack-birch-1-31-v3", "v1.31.7")
    cluster = clusters.kube.get(clusters.cluster, clusters.namespace, "gated")
    assert hooks.before_upgrade(cluster, "v1.31.6", "v1.31.7").get("retryAfterSeconds")
    eventually(
        lambda: condition(clusters.addon("gated"), "HelmChartTemplated").get("status") == "False",
        what="broken chart reported",
    )
    assert (
        "broken on purpose" in condition(clusters.addon("gated"), "HelmChartTemplated")["message"]
    )

    hooks.clock.now += 301  # the gate never holds forever
    answer = hooks.before_upgrade(cluster, "v1.31.6", "v1.31.7")
    assert "retryAfterSeconds" not in answer
    assert "letting the upgrade proceed" in answer["message"]
    hooks.controller.wake()
    eventually(
        lambda: condition(clusters.addon("gated"), "UpgradeTimedOut").get("status") == "True",
        what="UpgradeTimedOut condition",
    )
    assert condition(clusters.addon("gated"), "Ready")["reason"] == "UpgradeProceededWithoutAddons"

    # recovery: a fixed release as the new target gets a fresh gate (not timed out)
    _ds_status(workload, "kube-flannel-ds", 1)
    clusters.set_class("gated", V2, "v1.31.7")
    cluster = clusters.kube.get(clusters.cluster, clusters.namespace, "gated")
    assert hooks.before_upgrade(cluster, "v1.31.6", "v1.31.7").get("retryAfterSeconds")
    eventually(
        lambda: (
            _phases(clusters.addon("gated"))[3:]
            == [("metrics-server", "apply", "waitingForPostCondition")]
        ),
        what="metrics-server waiting",
    )
    _deploy_ready(workload, "metrics-server")
    eventually(lambda: ready(clusters.addon("gated")), what="v2 addons applied after recovery")
    addon = clusters.addon("gated")
    assert addon["spec"]["clusterStack"] == V2
    assert condition(addon, "UpgradeTimedOut") == {}
    assert condition(addon, "HelmChartTemplated")["status"] == "True"
    answer = hooks.before_upgrade(cluster, "v1.31.6", "v1.31.7")
    assert "retryAfterSeconds" not in answer and "applied" in answer["message"]


def test_hook_for_a_foreign_class_lets_go(hooks: Hooks, clusters: Clusters) -> None:
    cluster = clusters.create("foreign", "someone-elses-class", "v1.31.6")
    answer = hooks.before_upgrade(cluster, "v1.31.6", "v1.31.7")
    assert "retryAfterSeconds" not in answer and "not managed" in answer["message"]
    assert clusters.addon("foreign") is None
