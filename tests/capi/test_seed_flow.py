"""The seed's user flow, end to end, on real Cluster API and through the csops CLI.

1. The example stacks are validated, rendered, committed and pushed; ``csops sync`` (with the
   addon controller and the runtime-hook server) follows the remote; every ClusterStack shows
   its usable version.
2. csops's hook server is registered with CAPI through the ExtensionConfig ``csops addons
   --print-extension-config`` prints; CAPI discovers its handlers.
3. Clusters on every example class — v1beta2 ``classRef`` and v1beta1 ``class`` — are
   reconciled by CAPI's topology controller, with variables and patches applied.
4. Two of them get infrastructure (played by the test: endpoint = a workload plane) and a
   control plane (KCP, real; ``kubeadm init``'s ConfigMap played by the test). CAPI calls
   ``AfterControlPlaneInitialized`` on csops's hook server — the audit log shows csops's hook
   writing the ClusterAddon and CAPI clearing the pending hook — and the addons reach the
   workload plane.
5. v2 of the OpenStack stack is committed and synced; switching a Cluster to it is held by
   ``BeforeClusterUpgrade`` (CAPI keeps the control plane on the old version and says so) until
   v2's addons are applied, then CAPI upgrades the control plane.
6. v1 leaves the ClusterStack: its ClusterClass stays while a Cluster uses it and is pruned once
   none does.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from csops.controlplane import ControlPlane
from csops.controlplane.audit import AuditLog
from csops.controlplane.clusterapi import ClusterApi
from tests.capi.conftest import (
    CSOPS,
    HookEndpoint,
    Objects,
    StacksRepo,
    SyncProcess,
    cluster_ca_secret,
    condition,
    hook_endpoint,
    run_csops,
)
from tests.polling import eventually

ALDER_29, ALDER_30 = "docker-alder-1-29-v1", "docker-alder-1-30-v1"
BIRCH_V1, BIRCH_V2 = "openstack-birch-1-31-v1", "openstack-birch-1-31-v2"
HOOKS_FIELD_MANAGER = "fieldManager=csops-hooks"
PENDING_HOOKS = "runtime.cluster.x-k8s.io/pending-hooks"
ADOPT = "csops.io/adopt"
# Cluster API v1.14.2 marks AfterControlPlaneInitialized pending on a Cluster's first topology
# reconcile and drops the mark again in that same reconcile: the mark is added to the current
# Cluster after the desired Cluster was copied from it, and the Cluster patch that sets the
# control-plane and infrastructure refs then removes it (logged as ``"annotations":null``). So
# the flow's Clusters are created with the mark CAPI means to set; CAPI still decides when the
# control plane is initialized, calls the hook and clears the mark. (csops does not depend on
# the hook: it also starts an install from the Cluster's status.)
ACPI_PENDING = {PENDING_HOOKS: "AfterControlPlaneInitialized"}
WAIT = 120.0  # seconds any one step may take on a busy 2-core machine
KUBEADM_CONFIG = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n"

pytestmark = pytest.mark.integration


def cluster(
    api_version: str, name: str, namespace: str, class_name: str, version: str, **extra: Any
) -> dict[str, Any]:
    """A Cluster on ``class_name``: v1beta2 names it with ``classRef``, v1beta1 with ``class``."""
    class_ref = {"classRef": {"name": class_name}} if api_version == "v1beta2" else {}
    return {
        "apiVersion": f"cluster.x-k8s.io/{api_version}",
        "kind": "Cluster",
        "metadata": {"name": name, "namespace": namespace, "annotations": ACPI_PENDING},
        "spec": {
            "topology": {
                **(class_ref or {"class": class_name}),
                "version": version,
                "controlPlane": {"replicas": 1},
                "workers": {
                    "machineDeployments": [
                        {"class": "default-worker", "name": "md-0", "replicas": 1}
                    ]
                },
                **extra,
            }
        },
    }


class Flow:
    """The management plane as the flow sees it, plus the parts the test plays."""

    def __init__(self, mgmt: ApiClient, namespace: str, workload: ControlPlane) -> None:
        self.objects = Objects(mgmt)
        self.namespace = namespace
        self.workload = workload
        self.workload_client = workload.api_client()

    # ------------------------------------------------------------------ reading
    def get(self, kind: str, name: str, version: str = "v1beta2") -> dict[str, Any] | None:
        return self.objects.get(kind, self.namespace, name, version)

    def cluster(self, name: str) -> dict[str, Any]:
        cluster = self.get("Cluster", name)
        assert cluster is not None, f"Cluster {name} is gone"
        return cluster

    def topology_reconciled(self, name: str) -> dict[str, Any] | None:
        cluster = self.get("Cluster", name)
        return cluster if condition(cluster, "TopologyReconciled").get("status") == "True" else None

    def owned(self, cluster: dict[str, Any], ref_field: str) -> dict[str, Any]:
        ref = cluster["spec"][ref_field]
        kind = ref["kind"]
        version = "v1beta1" if kind.startswith("OpenStack") else "v1beta2"
        obj = self.get(kind, ref["name"], version)
        assert obj is not None, f"{kind} {ref['name']} of {cluster['metadata']['name']}"
        return obj

    def last_pass(self, sync_name: str, kubeconfig: Path) -> dict[str, Any] | None:
        """The sync's last pass as ``csops status -o json`` reports it (revision, ok, failed);
        None before the first pass."""
        proc = subprocess.run(
            [
                CSOPS, "status", "-o", "json",
                "--name", sync_name,
                "--inventory-namespace", self.namespace,
                "--kubeconfig", str(kubeconfig),
            ],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        if proc.returncode == 1 and "nothing synced yet" in proc.stderr:
            return None
        assert proc.returncode == 0, f"csops status: {proc.stdout}\n{proc.stderr}"
        last: dict[str, Any] = json.loads(proc.stdout)
        return last

    def cluster_stack_usable(self, name: str, versions: str) -> dict[str, Any] | None:
        stack = self.get("ClusterStack", name, "v1alpha1")
        return (
            stack if ((stack or {}).get("status") or {}).get("usableVersions") == versions else None
        )

    # ------------------------------------------------------------------ what the test plays
    def images_available(self) -> list[str]:
        """What ORC does once it has uploaded a node image: the ORC Image reports Available
        (csops applies an OpenStack release's ClusterClass only then). Returns the names."""
        marked = []
        for image in self.objects.list("Image", self.namespace, "v1alpha1"):
            conditions = (image.get("status") or {}).get("conditions") or []
            if any(c["type"] == "Available" and c["status"] == "True" for c in conditions):
                continue
            now = "2026-01-01T00:00:00Z"
            self.objects.patch(
                "Image",
                self.namespace,
                image["metadata"]["name"],
                {
                    "status": {
                        "id": "0d9a1d9c-7a3e-4b5c-9f9e-1c2d3e4f5a6b",
                        "conditions": [
                            {
                                "type": kind,
                                "status": value,
                                "reason": "Success",
                                "message": "",
                                "lastTransitionTime": now,
                            }
                            for kind, value in (("Available", "True"), ("Progressing", "False"))
                        ],
                    }
                },
                version="v1alpha1",
                status=True,
            )
            marked.append(image["metadata"]["name"])
        return marked

    def provision_infrastructure(self, cluster_name: str) -> None:
        """What CAPD / CAPO would do: an endpoint (the workload plane) and "provisioned"."""
        cluster = self.cluster(cluster_name)
        infra = self.owned(cluster, "infrastructureRef")
        kind, name = infra["kind"], infra["metadata"]["name"]
        endpoint = {"host": "127.0.0.1", "port": self.workload.ports.apiserver}
        if kind == "OpenStackCluster":  # CAPO: contract v1beta1
            self.objects.patch(
                kind,
                self.namespace,
                name,
                {"spec": {"controlPlaneEndpoint": endpoint}},
                version="v1beta1",
            )
            self.objects.patch(
                kind,
                self.namespace,
                name,
                {"status": {"ready": True}},
                version="v1beta1",
                status=True,
            )
        else:  # CAPD: contract v1beta2 (CAPD itself keeps failing to reach Docker, and says so)
            # CAPD sets only the host (its load balancer's); the port is the class template's,
            # which CAPD's webhook defaults to 6443 and the topology controller keeps there. So
            # the workload plane's port is given as the Cluster's own endpoint (a user may set
            # it), which CAPI prefers to the infrastructure's and KCP writes the kubeconfig for.
            self.objects.patch(
                "Cluster",
                self.namespace,
                cluster_name,
                {"spec": {"controlPlaneEndpoint": endpoint}},
            )
            self.objects.patch(
                kind,
                self.namespace,
                name,
                {"spec": {"controlPlaneEndpoint": {"host": "127.0.0.1"}}},
            )
            self.objects.patch(
                kind,
                self.namespace,
                name,
                {"status": {"initialization": {"provisioned": True}}},
                status=True,
            )

    def kubeadm_init(self) -> None:
        """What ``kubeadm init`` leaves behind on the first control-plane node."""
        core = client.CoreV1Api(self.workload_client)
        core.create_namespaced_config_map(
            "kube-system",
            client.V1ConfigMap(
                metadata=client.V1ObjectMeta(name="kubeadm-config"),
                data={"ClusterConfiguration": KUBEADM_CONFIG},
            ),
        )

    def workloads_ready(self) -> list[str]:
        """What kubelets and workload controllers would report: every DaemonSet and Deployment
        in kube-system ready. Returns the names marked."""
        apps = client.AppsV1Api(self.workload_client)
        marked = []
        for ds in apps.list_namespaced_daemon_set("kube-system").items:
            _unless_gone(
                apps.patch_namespaced_daemon_set_status,
                ds.metadata.name,
                "kube-system",
                {
                    "status": {
                        "currentNumberScheduled": 1,
                        "desiredNumberScheduled": 1,
                        "numberMisscheduled": 0,
                        "numberReady": 1,
                        "numberAvailable": 1,
                        "updatedNumberScheduled": 1,
                        "observedGeneration": ds.metadata.generation,
                    }
                },
            )
            marked.append(f"DaemonSet/{ds.metadata.name}")
        for deploy in apps.list_namespaced_deployment("kube-system").items:
            replicas = deploy.spec.replicas or 1
            _unless_gone(
                apps.patch_namespaced_deployment_status,
                deploy.metadata.name,
                "kube-system",
                {
                    "status": {
                        "replicas": replicas,
                        "readyReplicas": replicas,
                        "availableReplicas": replicas,
                        "updatedReplicas": replicas,
                        "observedGeneration": deploy.metadata.generation,
                    }
                },
            )
            marked.append(f"Deployment/{deploy.metadata.name}")
        return marked

    def workload_objects(self, kind: str) -> set[str]:
        apps, core = client.AppsV1Api(self.workload_client), client.CoreV1Api(self.workload_client)
        listing = {
            "DaemonSet": apps.list_namespaced_daemon_set,
            "Deployment": apps.list_namespaced_deployment,
            "ConfigMap": core.list_namespaced_config_map,
        }[kind]("kube-system")
        return {item.metadata.name for item in listing.items}


def _unless_gone(patch: Callable[..., object], *args: object) -> None:
    """Patch a status, unless the object was deleted since it was listed (an addon upgrade
    prunes what the new version no longer ships)."""
    try:
        patch(*args)
    except ApiException as exc:
        if exc.status != 404:
            raise


def _variables(cluster: dict[str, Any]) -> dict[str, Any]:
    return {v["name"]: v["value"] for v in cluster["spec"]["topology"].get("variables") or []}


def _birch_v2(repo: StacksRepo) -> None:
    """A new version of the OpenStack stack: Kubernetes v1.31.7 and a changed CNI config."""
    birch = repo.work / "providers/openstack/birch"
    csctl = birch / "csctl.yaml"
    csctl.write_text(csctl.read_text().replace("v1.31.6", "v1.31.7"))
    cni = birch / "cluster-addon/cni/templates/configmap.yaml"
    cni.write_text(cni.read_text().replace('"name": "cbr0"', '"name": "cbr1"'))
    repo.set_versions("openstack-birch-1-31", ["v1", "v2"])


@pytest.fixture
def flow(api_client: ApiClient, capi_namespace: str, private_workload_plane: ControlPlane) -> Flow:
    return Flow(api_client, capi_namespace, private_workload_plane)


@pytest.mark.timeout(900)
def test_seed_flow_on_real_cluster_api(
    flow: Flow,
    cluster_api: ClusterApi,
    control_plane: ControlPlane,
    audit: AuditLog,
    tmp_path: Path,
) -> None:
    ns = flow.namespace
    core = flow.objects.core

    # 1. render, commit, push; csops sync follows the remote -------------------------------
    repo = StacksRepo.create(tmp_path / "stacks", ns)
    hooks: HookEndpoint = hook_endpoint(control_plane, tmp_path / "hook-certs")
    # The rendered tree holds the stacks' Namespace, which the suite created before: the operator
    # consents to csops taking it over (without consent every pass fails on it, and the addon
    # controller, which follows successful passes only, would never see a release).
    core.patch_namespace(ns, {"metadata": {"annotations": {ADOPT: "true"}}})
    sync_name = f"csops-{secrets.token_hex(3)}"
    sync_kubeconfig = control_plane.kubeconfig_for("csops")

    def synced(revision: str) -> dict[str, Any] | None:
        """The sync's last pass, once it applied ``revision`` completely."""
        last = flow.last_pass(sync_name, sync_kubeconfig) or {}
        return last if last.get("ok") and f"sha1:{revision}" in str(last["revision"]) else None

    sync = SyncProcess(
        [
            CSOPS,
            "sync",
            repo.url,
            "--branch", "main",
            "--interval", "1",
            "--kubeconfig", str(sync_kubeconfig),
            "--name", sync_name,
            "--inventory-namespace", ns,
            "--addons-namespace", ns,
            "--cache-dir", str(tmp_path / "sync-cache"),
            "--hook-listen", f"127.0.0.1:{hooks.port}",
            "--hook-cert", str(hooks.cert),
            "--hook-key", str(hooks.key),
            "--log-format", "json",
        ],
        tmp_path / "csops-sync.log",
    ).start()  # fmt: skip
    try:
        eventually(
            lambda: synced(repo.head),
            timeout=WAIT,
            what="csops sync to apply the pushed revision completely",
        )
        for name, usable in (
            ("docker-alder-1-29", "v1"),
            ("docker-alder-1-30", "v1"),
            ("openstack-birch-1-31", "v1"),
        ):
            eventually(
                lambda n=name, u=usable: (
                    flow.images_available(),
                    flow.cluster_stack_usable(n, u),
                )[1],
                timeout=WAIT,
                what=f"ClusterStack {name} usable {usable}",
            )
        for class_name in (ALDER_29, ALDER_30, BIRCH_V1):
            eventually(
                lambda c=class_name: (
                    condition(flow.get("ClusterClass", c), "VariablesReady").get("status") == "True"
                ),
                timeout=WAIT,
                what=f"ClusterClass {class_name} reconciled by CAPI",
            )

        # 2. register csops's hook server with CAPI ----------------------------------------
        printed = run_csops(
            "addons",
            "--releases", str(repo.releases),
            "--hook-cert", str(hooks.cert),
            "--print-extension-config", hooks.url,
        )  # fmt: skip
        extension = yaml.safe_load(printed)
        extension["metadata"]["name"] = f"csops-{ns}"
        extension["spec"]["namespaceSelector"] = {
            "matchLabels": {"kubernetes.io/metadata.name": ns}
        }
        flow.objects.create(extension)
        discovered = eventually(
            lambda: (
                flow.objects.api.get_cluster_custom_object(
                    "runtime.cluster.x-k8s.io", "v1beta2", "extensionconfigs", f"csops-{ns}"
                ).get("status")
                or {}
            ).get("handlers"),
            timeout=WAIT,
            what="CAPI to discover csops's hook handlers",
        )
        assert {h["name"].split(".")[0] for h in discovered} == {
            "csops-after-control-plane-initialized",
            "csops-before-cluster-upgrade",
        }

        # 3. Clusters on every class, v1beta2 classRef and v1beta1 class --------------------
        for name in ("alder", "birch"):
            core.create_namespaced_secret(ns, cluster_ca_secret(name, ns, flow.workload))
        flow.objects.create(
            cluster(
                "v1beta2",
                "alder",
                ns,
                ALDER_29,
                "v1.29.4",
                variables=[
                    {"name": "imageRepository", "value": "registry.example.com/k8s"},
                    {"name": "certSANs", "value": ["api.alder.example"]},
                    {"name": "workerNodeLabels", "value": "tier=web"},
                ],
            )
        )
        flow.objects.create(cluster("v1beta1", "alder30", ns, ALDER_30, "v1.30.2"))
        flow.objects.create(
            cluster(
                "v1beta1",
                "birch",
                ns,
                BIRCH_V1,
                "v1.31.6",
                variables=[
                    {"name": "controlPlaneFlavor", "value": "SCS-4V-16"},
                    {"name": "workerRootDisk", "value": 50},
                ],
            )
        )
        flow.objects.create(cluster("v1beta1", "birch-old", ns, BIRCH_V1, "v1.31.6"))
        alder = eventually(
            lambda: flow.topology_reconciled("alder"),
            timeout=WAIT,
            what="alder's topology reconciled",
        )
        birch = eventually(
            lambda: flow.topology_reconciled("birch"),
            timeout=WAIT,
            what="birch's topology reconciled",
        )
        eventually(
            lambda: flow.topology_reconciled("alder30"),
            timeout=WAIT,
            what="alder30's topology reconciled",
        )
        eventually(
            lambda: flow.topology_reconciled("birch-old"),
            timeout=WAIT,
            what="birch-old's topology reconciled",
        )

        # patches of docker-alder-1-29-v1, driven by the variables and the builtins
        kcp = flow.owned(alder, "controlPlaneRef")
        cluster_config = kcp["spec"]["kubeadmConfigSpec"]["clusterConfiguration"]
        assert cluster_config["imageRepository"] == "registry.example.com/k8s"
        assert "api.alder.example" in cluster_config["apiServer"]["certSANs"]
        assert kcp["spec"]["version"] == "v1.29.4"
        machine_template = flow.get(
            "DockerMachineTemplate",
            kcp["spec"]["machineTemplate"]["spec"]["infrastructureRef"]["name"],
        )
        assert machine_template is not None
        assert machine_template["spec"]["template"]["spec"]["customImage"].endswith(
            "controlplaneamd64:v1"
        )
        # patches of openstack-birch-1-31-v1 (v1beta1 Cluster, CAPO templates)
        birch_kcp = flow.owned(birch, "controlPlaneRef")
        birch_template = flow.get(
            "OpenStackMachineTemplate",
            birch_kcp["spec"]["machineTemplate"]["spec"]["infrastructureRef"]["name"],
            "v1beta1",
        )
        assert birch_template is not None
        assert birch_template["spec"]["template"]["spec"]["flavor"] == "SCS-4V-16"
        assert birch_template["spec"]["template"]["spec"]["image"] == {
            "imageRef": {"name": "ubuntu-capi-image-v1.31.6"}
        }
        assert PENDING_HOOKS in flow.cluster("birch")["metadata"]["annotations"], "not called yet"

        # 4. infrastructure and control plane; CAPI calls AfterControlPlaneInitialized -------
        with audit.window() as initialized:
            for name in ("alder", "birch"):
                flow.provision_infrastructure(name)
            workload_endpoint = {"host": "127.0.0.1", "port": flow.workload.ports.apiserver}
            for name in ("alder", "birch"):
                eventually(
                    lambda n=name: (
                        flow.cluster(n)["spec"].get("controlPlaneEndpoint") == workload_endpoint
                    ),
                    timeout=WAIT,
                    what=f"{name}'s control-plane endpoint to be the workload plane",
                )
                eventually(
                    lambda n=name: (
                        core.list_namespaced_secret(
                            ns, field_selector=f"metadata.name={n}-kubeconfig"
                        ).items
                    ),
                    timeout=WAIT,
                    what=f"KCP to write {name}-kubeconfig",
                )
            flow.kubeadm_init()
            for name in ("alder", "birch"):
                eventually(
                    lambda n=name: (
                        PENDING_HOOKS not in (flow.cluster(n)["metadata"].get("annotations") or {})
                    ),
                    timeout=WAIT,
                    what=f"CAPI to call AfterControlPlaneInitialized for {name}",
                )
            eventually(
                lambda: "kindnet" in flow.workload_objects("DaemonSet"),
                timeout=WAIT,
                what="alder's CNI in the workload plane",
            )
            eventually(
                lambda: (
                    {"kube-flannel-ds"} <= flow.workload_objects("DaemonSet")
                    and "metrics-server" in flow.workload_objects("Deployment")
                ),
                timeout=WAIT,
                what="birch's addons in the workload plane",
            )
        for name in ("alder", "birch"):
            hook_writes = [
                e
                for e in initialized.requests(
                    resource="clusteraddons", namespace=ns, name=f"cluster-addon-{name}"
                )
                if e.is_write and HOOKS_FIELD_MANAGER in e.request_uri
            ]
            assert hook_writes, f"csops's hook server never wrote cluster-addon-{name}"
            # CAPI drops the pending hook (a write of the Cluster itself, not of its status)
            # only once the hook answered: after csops's hook server wrote the ClusterAddon.
            in_order = initialized.requests(namespace=ns)
            cleared = [
                e
                for e in in_order[in_order.index(hook_writes[0]) :]
                if e.is_write
                and e.resource == "clusters"
                and e.name == name
                and not e.subresource
                and e.user == cluster_api.user("core")
            ]
            assert cleared, f"CAPI core never wrote Cluster {name} after its hook was served"
        assert not initialized.requests(user="admin", resource="clusteraddons"), (
            "the test wrote no ClusterAddon"
        )

        # 5. v2 committed and synced; the switch is held until v2's addons are applied --------
        _birch_v2(repo)
        revision = repo.render_and_push("openstack birch v2: Kubernetes v1.31.7, new CNI config")
        eventually(
            lambda: synced(revision),
            timeout=WAIT,
            what="csops sync to apply v2's revision completely",
        )
        eventually(
            lambda: (
                flow.images_available(),
                flow.cluster_stack_usable("openstack-birch-1-31", "v1, v2"),
            )[1],
            timeout=WAIT,
            what="v2 usable",
        )
        eventually(
            lambda: (
                condition(flow.get("ClusterClass", BIRCH_V2), "VariablesReady").get("status")
                == "True"
            ),
            timeout=WAIT,
            what=f"ClusterClass {BIRCH_V2} reconciled by CAPI",
        )
        with audit.window() as upgrade:
            flow.objects.patch(
                "Cluster",
                ns,
                "birch",
                {"spec": {"topology": {"class": BIRCH_V2, "version": "v1.31.7"}}},
                version="v1beta1",
            )

            def held_by_hook() -> dict[str, Any] | None:
                reconciled = condition(flow.get("Cluster", "birch"), "TopologyReconciled")
                return (
                    reconciled if "BeforeClusterUpgrade" in reconciled.get("message", "") else None
                )

            held = eventually(
                held_by_hook,
                timeout=WAIT,
                what="CAPI to report the upgrade held by BeforeClusterUpgrade",
            )
            assert held["status"] == "False", held
            assert (
                flow.owned(flow.cluster("birch"), "controlPlaneRef")["spec"]["version"] == "v1.31.6"
            )
            eventually(
                lambda: (
                    "cbr1"
                    in str(
                        client.CoreV1Api(flow.workload_client)
                        .list_namespaced_config_map("kube-system")
                        .items
                    )
                ),
                timeout=WAIT,
                what="v2's CNI config applied while the upgrade is held",
            )
            assert (
                flow.owned(flow.cluster("birch"), "controlPlaneRef")["spec"]["version"] == "v1.31.6"
            )

            def upgraded() -> bool:
                flow.workloads_ready()  # the nodes run v2's addons now
                return (
                    flow.owned(flow.cluster("birch"), "controlPlaneRef")["spec"]["version"]
                    == "v1.31.7"
                )

            eventually(
                upgraded,
                what="CAPI to upgrade the control plane once v2's addons are applied",
                timeout=120,
            )
        addon = flow.get("ClusterAddon", "cluster-addon-birch", "v1alpha1")
        assert addon is not None and addon["spec"]["clusterStack"] == BIRCH_V2, addon
        gate_writes = [
            e
            for e in upgrade.requests(
                resource="clusteraddons", namespace=ns, name="cluster-addon-birch"
            )
            if e.is_write and HOOKS_FIELD_MANAGER in e.request_uri
        ]
        assert gate_writes, "csops's hook server never opened the upgrade gate"

        # 6. v1 leaves the ClusterStack: kept while birch-old uses it, pruned afterwards -------
        repo.set_versions("openstack-birch-1-31", ["v2"])
        revision = repo.render_and_push("openstack birch: only v2")
        eventually(
            lambda: f"sha1:{revision}" in sync.log() and "kept in use" in sync.log(),
            timeout=WAIT,
            what="the sync of the new revision to keep v1 in use",
        )
        assert flow.get("ClusterClass", BIRCH_V1) is not None, "v1 pruned while birch-old uses it"
        stack = flow.get("ClusterStack", "openstack-birch-1-31", "v1alpha1")
        summary = {s["name"]: s for s in (stack or {}).get("status", {}).get("summary", [])}
        assert "in use by" in summary["v1"]["message"], summary
        flow.objects.delete("Cluster", ns, "birch-old")
        eventually(
            lambda: flow.get("Cluster", "birch-old") is None,
            timeout=WAIT,
            what="CAPI to delete birch-old",
        )
        eventually(
            lambda: flow.get("ClusterClass", BIRCH_V1) is None,
            timeout=WAIT,
            what="v1 pruned once no Cluster uses it",
        )
        assert flow.get("ClusterClass", BIRCH_V2) is not None
        eventually(
            lambda: flow.cluster_stack_usable("openstack-birch-1-31", "v2"),
            timeout=WAIT,
            what="only v2 offered",
        )
    finally:
        sync.stop()
        print(f"---- {sync.log_path} (last 60 lines)")  # shown when the test fails
        print("\n".join(sync.log().splitlines()[-60:]))
        for name in ("alder", "alder30", "birch", "birch-old"):
            flow.objects.delete("Cluster", ns, name)
    assert re.search(r"Traceback", sync.log()) is None, sync.log()[-4000:]
