"""Shared pytest configuration for the csops test suite.

Every test is either ``unit`` (in-process: no servers, subprocesses or network; temporary files
are fine) or ``integration`` (real API servers, git, Helm, processes): each module says which
with ``pytestmark``. A test that says neither, or both, stops the collection. Unless a test
asks for another with ``@pytest.mark.timeout(N)``, a unit test gets :data:`UNIT_TIMEOUT`
seconds and an integration test :data:`INTEGRATION_TIMEOUT` (which covers starting the
session's control plane for the first test that needs it), or :data:`CLUSTER_API_TIMEOUT` when
it uses Cluster API (the first such test also waits for its CRDs, managers and webhooks, which
takes minutes on a busy machine).
"""

from __future__ import annotations

import pytest

pytest_plugins = ["csops.controlplane.pytest_plugin"]

UNIT_TIMEOUT = 10
INTEGRATION_TIMEOUT = 180
CLUSTER_API_TIMEOUT = 420
CLUSTER_API_FIXTURES = frozenset({"cluster_api", "capi_crds"})
KINDS = {"unit": UNIT_TIMEOUT, "integration": INTEGRATION_TIMEOUT}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Check each test's kind, give it the timeout of its kind, and run unit tests first.

    Unit tests first give quick feedback, and keep the session's last test an integration
    one: the control plane stops in the teardown of the last test, which a unit test's
    timeout is too short to cover.
    """
    unmarked = []
    for item in items:
        kinds = [name for name in KINDS if item.get_closest_marker(name) is not None]
        if len(kinds) != 1:
            unmarked.append(f"{item.nodeid}: {', '.join(kinds) or 'no kind'}")
            continue
        if item.get_closest_marker("timeout") is None:
            uses_capi = CLUSTER_API_FIXTURES & set(getattr(item, "fixturenames", ()))
            item.add_marker(
                pytest.mark.timeout(CLUSTER_API_TIMEOUT if uses_capi else KINDS[kinds[0]])
            )
    items.sort(key=lambda item: item.get_closest_marker("unit") is None)  # stable
    if unmarked:
        raise pytest.UsageError(
            "every test is marked either unit or integration (pytestmark in its module):\n  "
            + "\n  ".join(unmarked)
        )
