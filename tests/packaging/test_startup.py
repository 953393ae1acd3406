"""``csops --version`` and ``csops --help`` start without the heavy libraries.

Each check runs the console entry point in a fresh interpreter and reads ``sys.modules``
afterwards: the Kubernetes client, Helm and CEL must only load for the commands that use them.
"""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from bench import startup_cases
from csops import __version__, cli

pytestmark = pytest.mark.integration


def _start(*args: str) -> tuple[str, dict[str, object]]:
    """Stdout of a fresh ``csops ARGS`` process and its report (exit code, modules loaded)."""
    done = subprocess.run(
        [sys.executable, "-c", startup_cases.PROBE, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout, json.loads(done.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_start_up_imports_no_heavy_library(flag: str) -> None:
    stdout, report = _start(flag)
    assert report["code"] == 0
    heavy = set(report["modules"]) & set(startup_cases.HEAVY)  # type: ignore[call-overload]
    assert not heavy, f"csops {flag} imported {sorted(heavy)}"
    if flag == "--version":
        assert stdout.strip() == f"csops, version {__version__}"
    else:
        for name in cli.COMMANDS:
            assert f"  {name} " in stdout, name


def test_a_command_loads_its_libraries_when_it_runs() -> None:
    """The probe sees heavy imports: ``csops addons --help`` loads the addon controller's."""
    _, report = _start("addons", "--help")
    assert report["code"] == 0
    assert {"helm_python", "celpy"} <= set(report["modules"])  # type: ignore[arg-type]


def test_sync_starts_without_helm_or_cel() -> None:
    """``csops sync`` loads Helm and CEL only when it runs the addon controller: a sync
    without addons (``--once`` in CI) does not pay for them at start-up."""
    _, report = _start("sync", "--help")
    assert report["code"] == 0
    loaded = set(report["modules"]) & {"helm_python", "celpy", "jsonschema"}  # type: ignore[arg-type]
    assert not loaded, f"csops sync imported {sorted(loaded)}"


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_every_listed_command_resolves(name: str) -> None:
    ctx = click.Context(cli.cli)
    command = cli.cli.get_command(ctx, name)
    assert isinstance(command, click.Command)
    assert command.name == name
    assert command.get_short_help_str(limit=200) == cli.COMMANDS[name][1]


def test_an_unknown_command_is_a_usage_error() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from csops.cli import main; main()", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "No such command 'nope'" in done.stderr
