"""pytest fixtures backed by a real kube-apiserver + etcd (+ kube-controller-manager).

Enable with ``pytest_plugins = ["csops.controlplane.pytest_plugin"]`` in ``tests/conftest.py``.

Session scope (started once, on first use):
  ``control_plane``           the management :class:`~csops.controlplane.server.ControlPlane`
  ``kubeconfig``              its admin kubeconfig path (token auth, CA data)
  ``api_client``              a ``kubernetes.client.ApiClient`` for that kubeconfig
  ``capi_crds``               installs ``controlplane/crds``; yields the CRD names
  ``audit``                   :class:`~csops.controlplane.audit.AuditLog` of the management plane
  ``workload_control_plane``  a second, independent plane playing a workload cluster
  ``workload_api_client``     an ``ApiClient`` for the workload plane
Function scope:
  ``namespace``               a fresh namespace (random name) in the management plane

If a control plane cannot start the test errors out with the server logs; nothing is skipped.
When a test fails, the tails of the server logs are attached to its report.
"""

from __future__ import annotations

import secrets
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from csops.controlplane.audit import AuditLog
from csops.controlplane.crds import install_crds
from csops.controlplane.errors import ControlPlaneError
from csops.controlplane.server import ControlPlane, close_api_client

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

LOG_TAIL_LINES = 40
_STARTED: list[ControlPlane] = []


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
def capi_crds(api_client: ApiClient) -> list[str]:
    """Install the Cluster API / ORC CRDs of ``controlplane/crds``; wait until Established."""
    return install_crds(api_client)


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
    """Attach the tails of the server logs to the report of a failed test."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed or not _STARTED:
        return
    for plane in _STARTED:
        report.sections.append((f"control plane {plane.name} logs", plane.log_tail(LOG_TAIL_LINES)))
