"""The audit log records every request; windows count writes per user."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from kubernetes import client
from kubernetes.client import V1ConfigMap, V1ObjectMeta

from csops.controlplane import AuditLog, ControlPlane
from csops.controlplane.server import api_client_from, close_api_client

pytestmark = pytest.mark.integration


@contextmanager
def _as_user(control_plane: ControlPlane, user: str) -> Iterator[client.CoreV1Api]:
    api = api_client_from(control_plane.kubeconfig_for(user))
    try:
        yield client.CoreV1Api(api)
    finally:
        close_api_client(api)


def _cm(name: str) -> V1ConfigMap:
    return V1ConfigMap(metadata=V1ObjectMeta(name=name))


def test_window_counts_known_writes(
    control_plane: ControlPlane, audit: AuditLog, namespace: str
) -> None:
    with _as_user(control_plane, "csops") as core, audit.window() as w:
        core.create_namespaced_config_map(namespace, _cm("a"))
        core.create_namespaced_config_map(namespace, _cm("b"))
        core.patch_namespaced_config_map("a", namespace, {"data": {"k": "v"}})
        core.delete_namespaced_config_map("b", namespace)
        core.read_namespaced_config_map("a", namespace)
    writes = w.writes(user="csops")
    assert len(writes) == 4
    assert w.count_by_verb(user="csops") == {"create": 2, "patch": 1, "delete": 1, "get": 1}
    assert {e.name for e in w.requests(user="csops", verb="create")} == {"a", "b"}
    assert all(e.namespace == namespace and e.resource == "configmaps" for e in writes)
    assert [e.status_code for e in w.requests(user="csops", verb="delete")] == [200]


def test_read_only_window_has_zero_writes(
    control_plane: ControlPlane, audit: AuditLog, namespace: str
) -> None:
    with _as_user(control_plane, "csops") as core:
        core.create_namespaced_config_map(namespace, _cm("ro"))
        with audit.window() as w:
            core.list_namespaced_config_map(namespace)
            core.read_namespaced_config_map("ro", namespace)
    assert w.writes(user="csops") == []
    assert w.count_by_verb(user="csops") == {"list": 1, "get": 1}
    # the write before the window is in the log, but not in the window
    assert audit.requests(user="csops", verb="create", namespace=namespace, name="ro")


def test_whole_log_counts_by_user(audit: AuditLog, namespace: str) -> None:
    assert audit.count_by_user()["admin"] >= 1  # at least the namespace fixture's create
    assert audit.requests(user="admin", verb="create", resource="namespaces", name=namespace)
    assert audit.count_by_verb(user="admin")["create"] >= 1
