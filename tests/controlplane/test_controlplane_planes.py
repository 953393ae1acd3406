"""The workload plane is independent; restarts keep data; the controller-manager cleans up."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from kubernetes import client
from kubernetes.client import ApiClient, V1ConfigMap, V1Namespace, V1ObjectMeta, V1OwnerReference
from kubernetes.client.exceptions import ApiException

from csops.controlplane import ControlPlane
from tests.polling import eventually

pytestmark = pytest.mark.integration


def _gone(read: Callable[[], object]) -> bool:
    try:
        read()
    except ApiException as exc:
        if exc.status == 404:
            return True
        raise
    return False


def test_workload_plane_is_independent(
    control_plane: ControlPlane,
    workload_control_plane: ControlPlane,
    api_client: ApiClient,
    workload_api_client: ApiClient,
) -> None:
    assert workload_control_plane.url != control_plane.url
    assert workload_control_plane.workdir != control_plane.workdir
    workload = client.CoreV1Api(workload_api_client)
    workload.create_namespace(V1Namespace(metadata=V1ObjectMeta(name="only-in-workload")))
    listed = client.CoreV1Api(api_client).list_namespace().items
    assert "only-in-workload" not in {n.metadata.name for n in listed if n.metadata}
    assert workload_control_plane.credentials.ca_pem != control_plane.credentials.ca_pem


def test_apiserver_restart_keeps_port_and_data(
    workload_control_plane: ControlPlane, workload_api_client: ApiClient
) -> None:
    plane = workload_control_plane
    core = client.CoreV1Api(workload_api_client)
    core.create_namespaced_config_map("default", V1ConfigMap(metadata=V1ObjectMeta(name="kept")))
    url, etcd_pid = plane.url, plane.pids()["etcd"]
    plane.stop_apiserver()
    assert not plane.endpoint.ready()
    assert plane.pids()["etcd"] == etcd_pid
    plane.start_apiserver()
    assert plane.url == url
    assert core.read_namespaced_config_map("kept", "default").data is None


def test_namespace_deletion_and_garbage_collection(
    control_plane: ControlPlane, api_client: ApiClient, namespace: str
) -> None:
    if not control_plane.has_controller_manager:
        pytest.fail("kube-controller-manager is not running (run `make control-plane`)")
    core = client.CoreV1Api(api_client)
    parent = core.create_namespaced_config_map(
        namespace, V1ConfigMap(metadata=V1ObjectMeta(name="parent"))
    )
    assert parent.metadata is not None and parent.metadata.uid
    owner = V1OwnerReference(
        api_version="v1", kind="ConfigMap", name="parent", uid=parent.metadata.uid
    )
    core.create_namespaced_config_map(
        namespace, V1ConfigMap(metadata=V1ObjectMeta(name="child", owner_references=[owner]))
    )
    core.delete_namespaced_config_map("parent", namespace)
    eventually(lambda: _gone(lambda: core.read_namespaced_config_map("child", namespace)), 60)

    doomed = f"{namespace}-doomed"
    core.create_namespace(V1Namespace(metadata=V1ObjectMeta(name=doomed)))
    core.create_namespaced_config_map(doomed, V1ConfigMap(metadata=V1ObjectMeta(name="x")))
    core.delete_namespace(doomed)
    eventually(lambda: _gone(lambda: core.read_namespace(doomed)), 60)
