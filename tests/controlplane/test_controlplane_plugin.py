"""The pytest plugin attaches server log tails to failing tests' reports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

INNER_TEST = """
pytest_plugins = ["csops.controlplane.pytest_plugin"]

def test_fails(kubeconfig):
    assert kubeconfig.is_file()
    assert False, "deliberate"

def test_passes(namespace):
    assert namespace.startswith("t-")
"""


def test_failure_report_carries_server_logs(tmp_path: Path) -> None:
    (tmp_path / "test_inner.py").write_text(INNER_TEST)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        check=False,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 failed, 1 passed" in result.stdout
    assert "control plane management logs" in result.stdout
    assert "kube-apiserver.log" in result.stdout
