"""pytest fixtures backed by a real kube-apiserver + etcd (+ kube-controller-manager).

Enable with ``pytest_plugins = ["csops.controlplane.pytest_plugin"]`` in ``tests/conftest.py``.

Session scope (started once, on first use):
  ``control_plane``           the management :class:`~csops.controlplane.server.ControlPlane`
  ``kubeconfig``              its admin kubeconfig path (token auth, CA data)
  ``api_client``              a ``kubernetes.client.ApiClient`` for that kubeconfig
  ``cluster_api``             Cluster API's real managers (core with ClusterTopology and
                              RuntimeSDK, kubeadm bootstrap and control plane, CAPD) with real
                              CRDs and webhooks on the management plane, all namespaces
  ``capi_namespace``          a namespace of its own for flows on real Cluster API (created)
  ``capi_crds``               the real Cluster API / CAPO / ORC CRDs (starts ``cluster_api``:
                              its managers serve the conversions); yields the CRD names
  ``audit``                   :class:`~csops.controlplane.audit.AuditLog` of the management plane
  ``workload_control_plane``  a second, independent plane playing a workload cluster
  ``workload_api_client``     an ``ApiClient`` for the workload plane
Function scope:
  ``namespace``               a fresh namespace (random name) in the management plane

Everything starts lazily, on the first test that asks for it, once per session. If a control
plane or Cluster API cannot start the test errors out with the logs; nothing is skipped. When a
test fails, the tails of the server and manager logs are attached to its report.
"""

from __future__ import annotations

import secrets
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from csops.controlplane.audit import AuditLog
from csops.controlplane.clusterapi import ClusterApi
from csops.controlplane.errors import ControlPlaneError
from csops.controlplane.server import ControlPlane, close_api_client

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

LOG_TAIL_LINES = 40
_STARTED: list[ControlPlane] = []
_CLUSTER_APIS: list[ClusterApi] = []


def _start(
    tmp_path_factory: pytest.TempPathFactory, name: str, controller_manager: bool | None = None
) -> ControlPlane:
    workdir = tmp_path_factory.mktemp(name)
    plane = ControlPlane(workdir, name=name, controller_manager=controller_manager)
    try:
        plane.start()
    except ControlPlaneError as exc:
        pytest.fail(f"the {name} control plane could not start: {exc}", pytrace=False)
    _STARTED.append(plane)
    return plane


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """The management control plane, one per test session."""
    plane = _start(tmp_path_factory, "management")
    yield plane
    plane.stop()
    _STARTED.remove(plane)


@pytest.fixture(scope="session")
def kubeconfig(control_plane: ControlPlane) -> Path:
    """Path of the management plane's admin kubeconfig."""
    return control_plane.kubeconfig_path


@pytest.fixture(scope="session")
def api_client(control_plane: ControlPlane) -> Iterator[ApiClient]:
    """A ``kubernetes`` ApiClient for the management plane (admin user)."""
    client = control_plane.api_client()
    yield client
    close_api_client(client)


@pytest.fixture(scope="session")
def capi_namespace(api_client: ApiClient) -> str:
    """A namespace for flows on real Cluster API (``capi-<random>``), created once."""
    from kubernetes.client import CoreV1Api, V1Namespace, V1ObjectMeta

    name = f"capi-{secrets.token_hex(3)}"
    CoreV1Api(api_client).create_namespace(
        V1Namespace(metadata=V1ObjectMeta(name=name, labels={"csops.dev/test": "true"}))
    )
    return name


@pytest.fixture(scope="session")
def cluster_api(control_plane: ControlPlane) -> Iterator[ClusterApi]:
    """Cluster API on the management plane, one per session."""
    capi = ClusterApi(control_plane)
    try:
        capi.start()
    except ControlPlaneError as exc:
        pytest.fail(f"Cluster API could not start: {exc}", pytrace=False)
    _CLUSTER_APIS.append(capi)
    yield capi
    capi.stop()
    _CLUSTER_APIS.remove(capi)


@pytest.fixture(scope="session")
def capi_crds(cluster_api: ClusterApi) -> list[str]:
    """The real Cluster API, CAPO and ORC CRDs (Established; conversions served)."""
    return list(cluster_api.crds)


@pytest.fixture(scope="session")
def audit(control_plane: ControlPlane) -> AuditLog:
    """The management plane's audit log (``with audit.window() as w: ...``)."""
    return control_plane.audit


@pytest.fixture(scope="session")
def workload_control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """A second, independent control plane (no controller-manager), started on first use."""
    plane = _start(tmp_path_factory, "workload", controller_manager=False)
    yield plane
    plane.stop()
    _STARTED.remove(plane)


@pytest.fixture(scope="session")
def workload_api_client(workload_control_plane: ControlPlane) -> Iterator[ApiClient]:
    """A ``kubernetes`` ApiClient for the workload plane (admin user)."""
    client = workload_control_plane.api_client()
    yield client
    close_api_client(client)


@pytest.fixture
def namespace(api_client: ApiClient) -> Iterator[str]:
    """A fresh namespace ``t-<random>``, made by an administrator for csops to take over
    (annotated ``csops.io/adopt``); deleted afterwards without waiting for it to go."""
    from kubernetes.client import CoreV1Api, V1DeleteOptions, V1Namespace, V1ObjectMeta
    from kubernetes.client.exceptions import ApiException

    core = CoreV1Api(api_client)
    name = f"t-{secrets.token_hex(4)}"
    core.create_namespace(
        V1Namespace(
            metadata=V1ObjectMeta(
                name=name,
                labels={"csops.dev/test": "true"},
                annotations={"csops.io/adopt": "true"},
            )
        )
    )
    yield name
    try:
        core.delete_namespace(name, body=V1DeleteOptions(propagation_policy="Background"))
    except ApiException as exc:
        if exc.status != 404:
            raise


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    """Attach the tails of the server and manager logs to the report of a failed test."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    for plane in _STARTED:
        report.sections.append((f"control plane {plane.name} logs", plane.log_tail(LOG_TAIL_LINES)))
    for capi in _CLUSTER_APIS:
        report.sections.append(("Cluster API logs", capi.log_tail(LOG_TAIL_LINES)))
