"""ClusterStack status shows versions and the latest release in dot form, as CSO does."""

from __future__ import annotations

import pytest

from csops.syncer.stackstatus import _dot, _dot_name

pytestmark = pytest.mark.unit


def test_versions_and_latest_release_use_the_dot_form() -> None:
    assert _dot("docker-ferrol-1-27-v0-sha-hipstsw") == "v0-sha.hipstsw"
    assert _dot_name("docker-ferrol-1-27-v0-sha-hipstsw") == "docker-ferrol-1-27-v0-sha.hipstsw"
    assert _dot_name("docker-ferrol-1-27-v2") == "docker-ferrol-1-27-v2"
    assert _dot_name("not-a-release") == "not-a-release"
