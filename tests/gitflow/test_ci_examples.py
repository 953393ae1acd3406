"""The CI examples parse, and every csops command they run exists with the options they pass."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from csops import cli as cli_module

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted(p for p in (ROOT / "examples" / "ci").glob("*.yaml") if p.name[0] != ".")


def _commands(text: str) -> list[list[str]]:
    """Every ``csops …`` invocation in a shell snippet (continuations joined)."""
    out = []
    for raw in text.replace("\\\n", " ").splitlines():
        line = raw.strip()
        if line.startswith("#"):
            continue
        for part in line.split("&&"):
            words = shlex.split(part.split(">")[0].split("||")[0])
            if words and words[0] == "csops":
                out.append(words[1:])
    return out


def _check(words: list[str]) -> None:
    command = cli_module.cli.get_command(click.Context(cli_module.cli), words[0])
    assert command is not None, f"csops {words[0]}: no such command"
    known: set[str] = set()
    for param in command.params:
        if isinstance(param, click.Option):
            known.update(param.opts)
            known.update(param.secondary_opts)
    for word in words[1:]:
        if word.startswith("-"):
            assert word.split("=")[0] in known, f"csops {words[0]}: unknown option {word}"
    # and click accepts the whole command line (values, choices, argument count)
    ctx = command.make_context(f"csops {words[0]}", list(words[1:]), resilient_parsing=False)
    ctx.close()


def _runs(workflow: dict[Any, Any]) -> list[str]:
    return [
        step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step
    ]


def test_examples_exist() -> None:
    names = {p.name for p in WORKFLOWS}
    assert {"pull-request.yaml", "post-merge.yaml"} <= names
    assert (ROOT / "examples" / "ci" / ".pre-commit-config.yaml").is_file()
    assert (ROOT / ".pre-commit-hooks.yaml").is_file()


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_commands_exist(path: Path) -> None:
    workflow = yaml.safe_load(path.read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads `on` as true
    assert triggers, f"{path.name}: no trigger"
    commands = [c for run in _runs(workflow) for c in _commands(run)]
    assert commands, f"{path.name}: runs no csops command"
    for words in commands:
        _check([w.replace('"$STACKS"', ".").replace("$STACKS", ".") for w in words])


def test_pull_request_workflow_runs_the_three_checks() -> None:
    workflow = yaml.safe_load((ROOT / "examples/ci/pull-request.yaml").read_text())
    assert "pull_request" in workflow.get("on", workflow.get(True))
    commands = [c for run in _runs(workflow) for c in _commands(run)]
    assert [c[0] for c in commands] == ["validate", "render", "diff"]
    assert "--check" in commands[1]
    assert commands[2][commands[2].index("-o") + 1] == "markdown"


def test_post_merge_workflow_commits_and_pushes() -> None:
    workflow = yaml.safe_load((ROOT / "examples/ci/post-merge.yaml").read_text())
    commands = [c for run in _runs(workflow) for c in _commands(run)]
    assert any(c[0] == "render" and "--commit" in c and "--push" in c for c in commands)
    # the commented-out hydrator alternative is a valid command too
    text = (ROOT / "examples/ci/post-merge.yaml").read_text()
    hydrator = next(line for line in text.splitlines() if "--branch rendered" in line)
    _check(shlex.split(hydrator.split("run:", 1)[1].replace('"$STACKS"', "."))[1:])


def test_pre_commit_hooks() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    ids = {h["id"] for h in hooks}
    assert {"csops-render", "csops-validate", "csops-render-check"} <= ids
    for hook in hooks:
        assert hook["pass_filenames"] is False
        words = shlex.split(hook["entry"])
        assert words[0] == "csops"
        _check(words[1:])
    config = yaml.safe_load((ROOT / "examples/ci/.pre-commit-config.yaml").read_text())
    used = {h["id"] for repo in config["repos"] for h in repo["hooks"]}
    assert used <= ids
