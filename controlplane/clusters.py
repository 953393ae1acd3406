"""Workload Clusters for the tests and the fan-out bench: paused Cluster objects with a
kubeconfig Secret pointing at a workload control plane, and the addon objects csops owns there.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from csops.syncer.errors import ApiError
from csops.syncer.kube import Kube

OWNED = "clusterstack.x-k8s.io/instance=owned"
"""The label selector of every addon object csops owns in a workload cluster."""
CLEAN_KINDS = (
    ("v1", "ConfigMap"),
    ("v1", "ServiceAccount"),
    ("v1", "Service"),
    ("apps/v1", "DaemonSet"),
    ("apps/v1", "Deployment"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("apiregistration.k8s.io/v1", "APIService"),
)
"""The kinds the example stacks' addons create in a workload cluster."""
_EDIT_ATTEMPTS = 100


def remove_owned(kube: Kube) -> None:
    """Delete every csops-owned addon object of :data:`CLEAN_KINDS` from a workload plane."""
    for api_version, kind in CLEAN_KINDS:
        resource = kube.resource(api_version, kind)
        for item in kube.list(resource, label_selector=OWNED).items:
            meta = item["metadata"]
            kube.delete(resource, meta.get("namespace"), meta["name"])


UNSAFE_VERSION_UPDATE = "unsafe.topology.cluster.x-k8s.io/disable-update-version-check"


class Clusters:
    """Creates Clusters (+ kubeconfig Secrets, control-plane and infra objects) in a namespace.

    Tests and the fan-out bench play Cluster API themselves (they mark the control plane
    initialized, call the hooks), so these Clusters are ``paused``: Cluster API's controllers
    leave them alone while its webhooks still validate them (all but the version change, which
    needs the control plane a paused topology never gets; the seed flow in ``tests/capi`` runs
    the real thing).
    Cluster API's webhooks refuse a Cluster moved to a ClusterClass that does not exist, so
    the class a Cluster names is installed first from ``manifests`` (the render of
    ``releases``); a class of a release that was never rendered (a test's own copy of a
    release) gets the spec of the newest rendered class of its stack.
    """

    def __init__(self, kube: Kube, namespace: str, kubeconfig: bytes, manifests: Path) -> None:
        self.kube = kube
        self.namespace = namespace
        self.kubeconfig = kubeconfig
        self.manifests = manifests
        self.cluster = kube.resource("cluster.x-k8s.io/v1beta1", "Cluster")
        self._classes: set[str] = set()

    def ensure_class(self, class_name: str) -> None:
        """Apply ``class_name`` and its templates into the namespace (once)."""
        if class_name in self._classes:
            return
        stack = class_name.rsplit("-v", 1)[0]
        rendered = sorted(self.manifests.glob(f"*/clusterclass.cluster.x-k8s.io/{stack}-v*.yaml"))
        by_name = {p.stem: p for p in rendered}
        source = by_name.get(class_name) or (rendered[-1] if rendered else None)
        if source is None:
            return  # someone else's class: the Cluster is created with CAPI's warning
        cls = yaml.safe_load(source.read_text())
        objects = [cls] + [
            yaml.safe_load(p.read_text())
            for p in source.parent.parent.glob("*template.*/*.yaml")
            if p.stem.startswith(f"{source.stem}-")
        ]
        cls["metadata"]["name"] = class_name
        for obj in objects:
            obj["metadata"]["namespace"] = self.namespace
            self.kube.apply(self.kube.resource(obj["apiVersion"], obj["kind"]), obj)
        self._classes.add(class_name)

    def secret(self, name: str, kubeconfig: bytes | None = None) -> None:
        self.kube.apply(
            self.kube.resource("v1", "Secret"),
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": f"{name}-kubeconfig", "namespace": self.namespace},
                "data": {"value": base64.b64encode(kubeconfig or self.kubeconfig).decode()},
            },
        )

    def create(
        self,
        name: str,
        class_name: str,
        version: str,
        *,
        initialized: bool = True,
        kubeconfig: bytes | None = None,
    ) -> dict[str, Any]:
        self.secret(name, kubeconfig)
        self.ensure_class(class_name)
        body = {
            "apiVersion": "cluster.x-k8s.io/v1beta1",
            "kind": "Cluster",
            "metadata": {
                "name": name,
                "namespace": self.namespace,
                # a paused Cluster never gets the control plane CAPI's webhook reads to
                # check a version change, so that check is left out
                "annotations": {UNSAFE_VERSION_UPDATE: ""},
            },
            "spec": {
                "paused": True,
                "controlPlaneEndpoint": {"host": "203.0.113.7", "port": 6443},
                "topology": {"class": class_name, "version": version},
            },
        }
        cluster = self.kube.apply(self.cluster, body)
        if initialized:
            self.initialize(name)
        return cluster

    def initialize(self, name: str) -> None:
        self.kube.apply_status(
            self.cluster,
            {
                "apiVersion": "cluster.x-k8s.io/v1beta1",
                "kind": "Cluster",
                "metadata": {"name": name, "namespace": self.namespace},
                "status": {"controlPlaneReady": True},
            },
        )

    def set_class(self, name: str, class_name: str, version: str) -> None:
        self.ensure_class(class_name)
        self.edit(
            name,
            lambda live: live["spec"]["topology"].update({"class": class_name, "version": version}),
            what=f"Cluster {name} moved to {class_name}",
        )

    def edit(self, name: str, change: Callable[[dict[str, Any]], None], *, what: str) -> None:
        """Replace Cluster ``name`` with ``change`` made to it, reading it again whenever
        Cluster API wrote it in between (a conflict)."""

        for _ in range(_EDIT_ATTEMPTS):
            live = self.kube.get(self.cluster, self.namespace, name)
            change(live)
            try:
                self.kube.replace(self.cluster, live)
            except ApiError as exc:
                if exc.status != 409:
                    raise
                time.sleep(0.05)
                continue
            return
        raise TimeoutError(f"{what}: still conflicting after {_EDIT_ATTEMPTS} attempts")

    def addon(self, name: str) -> dict[str, Any] | None:
        resource = self.kube.resource("clusterstack.x-k8s.io/v1alpha1", "ClusterAddon")
        return self.kube.get_or_none(resource, self.namespace, f"cluster-addon-{name}")
