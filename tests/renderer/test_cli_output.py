"""``validate``/``render -o json`` for CI annotations, ``validate`` on a directory without
stacks, and ``csops completion`` answering a real completion request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

pytestmark = pytest.mark.integration


def test_validate_without_stacks_fails_and_says_where_it_looked(
    csops: Callable[..., Result], tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = csops("validate", empty)
    assert result.exit_code == 1
    assert "no stacks found" in result.stderr and "csops.yaml" in result.stderr

    as_json = csops("validate", empty, "-o", "json")
    assert as_json.exit_code == 1
    data = json.loads(as_json.stdout)
    assert data["ok"] is False
    [problem] = data["problems"]
    assert problem["file"] == str(empty) and "no stacks found" in problem["message"]


def test_validate_and_render_print_one_json_document(
    csops: Callable[..., Result], stacks_repo: Path
) -> None:
    ok = csops("validate", stacks_repo, "-o", "json")
    assert ok.exit_code == 0, ok.stderr
    data = json.loads(ok.stdout)
    assert data["ok"] is True and "docker-alder-1-29-v1" in data["releases"]

    rendered = csops("render", stacks_repo, "-o", "json")
    assert rendered.exit_code == 0, rendered.stderr
    data = json.loads(rendered.stdout)
    assert data["ok"] is True and data["written"] is True
    assert "docker-alder-1-29-v1" in data["newReleases"]
    assert any(path.startswith("manifests/") for path in data["added"])

    csctl = stacks_repo / "providers/docker/alder/1-29/csctl.yaml"
    csctl.write_text(csctl.read_text().replace("clusterStackName: alder", "clusterStackName: [x]"))
    broken = csops("validate", stacks_repo, "-o", "json")
    assert broken.exit_code == 1
    data = json.loads(broken.stdout)
    assert data["ok"] is False
    assert any(
        p["file"].endswith("1-29/csctl.yaml") and "line" in p and p.get("field")
        for p in data["problems"]
    ), data["problems"]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_and_a_completion_request(
    csops: Callable[..., Result], shell: str
) -> None:
    script = csops("completion", shell)
    assert script.exit_code == 0 and "_CSOPS_COMPLETE" in script.stdout
    if shell != "bash":
        return
    env = {
        **os.environ,
        "_CSOPS_COMPLETE": "bash_complete",
        "COMP_WORDS": "csops status --out",
        "COMP_CWORD": "2",
    }
    asked = subprocess.run(
        [sys.executable, "-c", "from csops.cli import main; main()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert asked.returncode == 0, asked.stderr
    assert "plain,--output" in asked.stdout.splitlines()
