"""The management control plane is a real Kubernetes API: CRUD, server-side apply, watch."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client import ApiClient, V1ConfigMap, V1ObjectMeta

from csops.controlplane import ControlPlane
from csops.controlplane.server import api_client_from, close_api_client

pytestmark = pytest.mark.integration


def test_version_is_the_pinned_release(api_client: ApiClient) -> None:
    info = client.VersionApi(api_client).get_code()
    assert info.git_version == "v1.36.3"
    assert info.major == "1"
    assert info.minor.startswith("36")


def test_create_read_delete_configmap(api_client: ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api_client)
    core.create_namespaced_config_map(
        namespace, V1ConfigMap(metadata=V1ObjectMeta(name="settings"), data={"a": "1"})
    )
    assert core.read_namespaced_config_map("settings", namespace).data == {"a": "1"}
    core.delete_namespaced_config_map("settings", namespace)
    assert core.list_namespaced_config_map(namespace).items == []


def test_server_side_apply_records_field_manager(api_client: ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api_client)
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "applied", "namespace": namespace},
        "data": {"key": "v1"},
    }
    apply: Callable[..., V1ConfigMap] = core.patch_namespaced_config_map
    apply(
        "applied",
        namespace,
        body,
        field_manager="csops",
        force=True,
        _content_type="application/apply-patch+yaml",
    )
    body["data"] = {"key": "v2"}
    applied = apply(
        "applied",
        namespace,
        body,
        field_manager="csops",
        force=True,
        _content_type="application/apply-patch+yaml",
    )
    assert applied.data == {"key": "v2"}
    assert applied.metadata is not None
    managers = {(m.manager, m.operation) for m in applied.metadata.managed_fields or []}
    assert ("csops", "Apply") in managers


def test_watch_sees_added_and_deleted(api_client: ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api_client)
    seen: list[tuple[str, str]] = []
    new_watch: Callable[[], Any] = watch.Watch  # unannotated upstream
    watcher = new_watch()
    started = threading.Event()
    # Watch from the list's resourceVersion, so events that happen before the watch request
    # reaches the server (a busy machine) are still delivered.
    since = core.list_namespaced_config_map(namespace).metadata.resource_version

    def consume() -> None:
        started.set()
        for event in watcher.stream(
            core.list_namespaced_config_map, namespace, resource_version=since, timeout_seconds=20
        ):
            name = event["object"].metadata.name
            if name.startswith("w-"):
                seen.append((event["type"], name))
            if ("DELETED", "w-1") in seen:
                watcher.stop()

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    started.wait()
    core.create_namespaced_config_map(namespace, V1ConfigMap(metadata=V1ObjectMeta(name="w-1")))
    core.delete_namespaced_config_map("w-1", namespace)
    thread.join(timeout=25)
    assert ("ADDED", "w-1") in seen
    assert ("DELETED", "w-1") in seen


def test_namespace_fixture_gives_a_fresh_namespace(api_client: ApiClient, namespace: str) -> None:
    ns = client.CoreV1Api(api_client).read_namespace(namespace)
    assert ns.status is not None
    assert ns.status.phase == "Active"
    assert ns.metadata is not None
    assert (ns.metadata.labels or {})["csops.dev/test"] == "true"


def test_extra_user_kubeconfig(control_plane: ControlPlane, namespace: str) -> None:
    as_csops = api_client_from(control_plane.kubeconfig_for("csops"))
    client.CoreV1Api(as_csops).create_namespaced_config_map(
        namespace, V1ConfigMap(metadata=V1ObjectMeta(name="by-csops"))
    )
    close_api_client(as_csops)
    created = control_plane.audit.requests(user="csops", verb="create", namespace=namespace)
    assert [e.name for e in created] == ["by-csops"]
