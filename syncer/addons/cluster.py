"""The parts of a CAPI ``Cluster`` the addon controller reads (v1beta1 and v1beta2 shapes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CLUSTER_GROUP = "cluster.x-k8s.io"
CLUSTER_API_VERSION = "cluster.x-k8s.io/v1beta1"


@dataclass(frozen=True)
class ObjectRef:
    """A reference to another object in the Cluster's namespace."""

    group: str
    version: str  # empty when only the group is known (v1beta2 ``apiGroup``)
    kind: str
    name: str
    namespace: str


@dataclass(frozen=True)
class ClusterView:
    name: str
    namespace: str
    uid: str
    api_version: str
    class_name: str
    class_namespace: str
    version: str
    control_plane_ref: ObjectRef | None
    infrastructure_ref: ObjectRef | None
    control_plane_initialized: bool
    deleting: bool
    body: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def addon_name(self) -> str:
        return f"cluster-addon-{self.name}"

    @property
    def kubeconfig_secret(self) -> str:
        return f"{self.name}-kubeconfig"


def _ref(data: Any, namespace: str) -> ObjectRef | None:
    if not isinstance(data, dict) or not data.get("kind") or not data.get("name"):
        return None
    if data.get("apiVersion"):
        group, _, version = str(data["apiVersion"]).rpartition("/")
    else:
        group, version = str(data.get("apiGroup", "")), ""
    return ObjectRef(group, version, str(data["kind"]), str(data["name"]), namespace)


def _true(conditions: Any, ctype: str) -> bool:
    return any(
        isinstance(c, dict) and c.get("type") == ctype and c.get("status") == "True"
        for c in conditions or []
    )


def control_plane_initialized(status: dict[str, Any]) -> bool:
    """v1beta1 ``controlPlaneReady`` / ``ControlPlaneInitialized``; v1beta2 ``initialization``."""
    initialization = status.get("initialization") or {}
    v1beta2 = status.get("v1beta2") or {}
    return bool(
        status.get("controlPlaneReady")
        or initialization.get("controlPlaneInitialized")
        or _true(status.get("conditions"), "ControlPlaneInitialized")
        or _true(status.get("conditions"), "ControlPlaneReady")
        or _true(v1beta2.get("conditions"), "ControlPlaneInitialized")
    )


def view(cluster: dict[str, Any]) -> ClusterView:
    meta = cluster.get("metadata") or {}
    spec = cluster.get("spec") or {}
    topology = spec.get("topology") or {}
    namespace = str(meta.get("namespace") or "default")
    class_ref = topology.get("classRef") or {}
    class_name = str(topology.get("class") or class_ref.get("name") or "")
    class_namespace = str(topology.get("classNamespace") or class_ref.get("namespace") or namespace)
    return ClusterView(
        name=str(meta.get("name", "")),
        namespace=namespace,
        uid=str(meta.get("uid", "")),
        api_version=str(cluster.get("apiVersion") or CLUSTER_API_VERSION),
        class_name=class_name,
        class_namespace=class_namespace,
        version=str(topology.get("version") or ""),
        control_plane_ref=_ref(spec.get("controlPlaneRef"), namespace),
        infrastructure_ref=_ref(spec.get("infrastructureRef"), namespace),
        control_plane_initialized=control_plane_initialized(cluster.get("status") or {}),
        deleting=bool(meta.get("deletionTimestamp")),
        body=cluster,
    )
