"""``--addon-workers`` reaches the addon controller's pool size, in ``csops addons`` and in
``csops sync``; values outside 1..64 are usage errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from csops.cli import cli
from csops.commands import sync as sync_command
from csops.syncer.addons.controller import AddonController
from csops.syncer.addons.options import AddonOptions, Result
from csops.syncer.application import addon_options
from csops.syncer.settings import Settings

pytestmark = pytest.mark.unit

RELEASES = Path(__file__).resolve().parents[2] / "stacks/rendered/releases"
KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: nowhere
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: nobody
  user: {token: "t"}
contexts:
- name: nowhere
  context: {cluster: nowhere, user: nobody}
current-context: nowhere
"""


@pytest.fixture
def kubeconfig(tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    return path


def _addons(kubeconfig: Path, *extra: str) -> tuple[Any, list[AddonOptions]]:
    seen: list[AddonOptions] = []

    def reconcile_once(self: AddonController) -> dict[str, Result]:
        seen.append(self.options)
        return {}

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(AddonController, "reconcile_once", reconcile_once)
        args = ["addons", "--releases", str(RELEASES), "--kubeconfig", str(kubeconfig)]
        result = CliRunner().invoke(cli, [*args, "--once", *extra])
    return result, seen


def test_addons_passes_the_worker_count_to_the_controller(kubeconfig: Path) -> None:
    result, seen = _addons(kubeconfig, "--addon-workers", "16")
    assert result.exit_code == 0, result.output
    assert [o.workers for o in seen] == [16]
    result, seen = _addons(kubeconfig)
    assert result.exit_code == 0, result.output
    assert [o.workers for o in seen] == [AddonOptions().workers]


@pytest.mark.parametrize("value", ["0", "65", "many"])
def test_addons_refuses_a_worker_count_out_of_range(kubeconfig: Path, value: str) -> None:
    result, seen = _addons(kubeconfig, "--addon-workers", value)
    assert result.exit_code == 2
    assert "--addon-workers" in result.output
    assert seen == []


def _sync(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *extra: str) -> Any:
    built: list[Settings] = []

    class Recorder:
        def __init__(self, settings: Settings) -> None:
            built.append(settings)

        def once(self) -> bool:
            return True

    monkeypatch.setattr(sync_command, "Application", Recorder)
    result = CliRunner().invoke(cli, ["sync", str(tmp_path), "--once", *extra])
    assert result.exit_code == 0, result.output
    return built[0]


def test_sync_passes_the_worker_count_to_its_addon_controller(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = _sync(monkeypatch, tmp_path, "--addon-workers", "9")
    assert settings.addons is not None
    assert addon_options(settings.addons).workers == 9
    default = _sync(monkeypatch, tmp_path)
    assert default.addons is not None
    assert addon_options(default.addons).workers == AddonOptions().workers


def test_the_help_says_what_the_flag_bounds() -> None:
    for command in ("addons", "sync"):
        result = CliRunner().invoke(cli, [command, "--help"])
        assert result.exit_code == 0
        assert "--addon-workers" in result.output
        assert "reconciled at the same time" in " ".join(result.output.split())
