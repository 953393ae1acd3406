"""``csops diff --cluster``: a fresh render against a real API server, changing nothing."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

pytestmark = pytest.mark.integration

Csops = Callable[..., Result]


def test_diff_cluster_against_a_real_api_server(
    csops: Csops, work: Path, kubeconfig: Path, capi_crds: list[str]
) -> None:
    result = csops(
        "diff", work, "--cluster", "--kubeconfig", kubeconfig, "-o", "json", "--name", "gitflow"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["errors"] == {}
    added = {o["object"] for o in data["objects"] if o["action"] == "added"}
    assert any("ClusterClass" in o and "docker-alder-1-29-v1" in o for o in added), added
    text = csops("diff", work, "--cluster", "--kubeconfig", kubeconfig, "--name", "gitflow")
    # Other tests share this API server (and may have applied the same CRDs under another
    # inventory), so only the shape of the summary and the absence of removals are fixed.
    assert re.fullmatch(
        r"\d+ to add, \d+ to change, 0 to remove(, \d+ waiting for node images)?",
        text.stdout.splitlines()[0],
    )
    assert not (work / "rendered").exists()  # a fresh render, nothing written
