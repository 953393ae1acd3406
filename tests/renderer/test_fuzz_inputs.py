"""Fuzzed YAML and template inputs (hypothesis): whatever a repository holds, ``csops render``
and ``validate`` exit 0, 1 or 2, print no traceback, write nothing outside the output root, and
leave the rendered tree exactly as it was when they fail.

Each example mutates one input of a rendered copy of the example stacks, runs the CLI in
process, checks, and restores the input and the tree. Examples are derived deterministically
(``derandomize``) so that a failure is the same on every run; the seed database is off so that
nothing is written next to the tests.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csops import cli as cli_module
from tests.renderer.conftest import EXAMPLES, snapshot

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

ALDER = Path("providers/docker/alder/1-29")
TARGETS = {
    "csctl": ALDER / "csctl.yaml",
    "values": ALDER / "cluster-class/values.yaml",
    "template": ALDER / "cluster-class/templates/fuzzed.yaml",
    "clusterstack": Path("clusterstacks/docker-alder-1-29.yaml"),
    "config": Path("csops.yaml"),
}
# Pieces of YAML and of Go templates, recombined: structure, aliases, tags, escapes out of
# the tree, template actions, numbers at the edges, bytes that are not text. No loops: a
# bounded render of an endless template is tested on its own.
TOKENS = [
    "{{",
    "}}",
    "{{-",
    "-}}",
    " .Values",
    " .Release.Name",
    " .Chart.Version",
    " include",
    ' "x" .',
    " toYaml",
    " | nindent 2",
    " tpl",
    " required",
    " fail",
    " nil",
    " $x :=",
    " $x",
    "apiVersion: v1\n",
    "kind: ",
    "ConfigMap",
    "Secret",
    "../",
    "..",
    "/",
    "metadata:\n",
    "  name: ",
    "  namespace: ",
    "data:\n",
    "  k: ",
    "spec:\n",
    "- ",
    ": ",
    ":",
    " ",
    "\n",
    "  ",
    "\t",
    "---\n",
    "...\n",
    "&a ",
    "*a",
    "<<: *a",
    "!!binary ",
    "!!python/object ",
    "[",
    "]",
    "{",
    "}",
    ",",
    '"',
    "'",
    "|",
    ">",
    "#",
    "%YAML 1.2\n",
    "?",
    "1e309",
    "-0",
    "0x1F",
    "~",
    "true",
    "yes",
    "null",
    "é",
    "\u202e",
    "\x00",
    "\x85",
    "\ufeff",
    "9" * 30,
    "kubernetesVersion: v1.29.4\n",
    "clusterStackName: alder\n",
    "versions:\n",
    "  - v1\n",
]
SETTINGS = settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass
class Repo:
    """A rendered copy of the example stacks in ``tmp/stacks``, with everything around it."""

    root: Path
    originals: dict[Path, bytes | None]
    tree: dict[str, bytes]

    def restore(self) -> None:
        for rel, data in self.originals.items():
            path = self.root / rel
            if data is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(data)
        rendered = self.root / "rendered"
        if snapshot(rendered) != self.tree:
            shutil.rmtree(rendered)
            for rel, data in self.tree.items():
                (rendered / rel).parent.mkdir(parents=True, exist_ok=True)
                (rendered / rel).write_bytes(data)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repo]:
    base = tmp_path_factory.mktemp("fuzz")
    root = base / "stacks"
    shutil.copytree(EXAMPLES, root, ignore=shutil.ignore_patterns("rendered"))
    previous = os.environ.get("CSOPS_CACHE_DIR")
    os.environ["CSOPS_CACHE_DIR"] = str(base / "cache")
    try:
        assert run("render", root) == 0
        originals = {
            rel: (root / rel).read_bytes() if (root / rel).exists() else None
            for rel in TARGETS.values()
        }
        yield Repo(root, originals, snapshot(root / "rendered"))
    finally:
        if previous is None:
            os.environ.pop("CSOPS_CACHE_DIR", None)
        else:
            os.environ["CSOPS_CACHE_DIR"] = previous


def run(command: str, root: Path) -> int:
    result = CliRunner().invoke(cli_module.cli, [command, str(root)], catch_exceptions=True)
    assert "Traceback" not in result.output, result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"csops {command} raised {result.exception!r}") from result.exception
    assert result.exit_code in (0, 1, 2), result.output
    return result.exit_code


def outside(root: Path) -> dict[str, bytes]:
    """Every file around the repository (its parent, but not the cache) and in it, but not in
    its rendered tree: what a render must never write."""
    return {
        k: v
        for k, v in snapshot(root.parent).items()
        if not k.startswith(("stacks/rendered/", "cache/"))
    }


def check(repo: Repo, target: str, data: bytes) -> None:
    path = repo.root / TARGETS[target]
    try:
        path.write_bytes(data)
        around = outside(repo.root)
        for command in ("validate", "render"):
            before = snapshot(repo.root / "rendered")
            code = run(command, repo.root)
            if code != 0 or command == "validate":
                assert snapshot(repo.root / "rendered") == before, f"{command} exited {code}"
            assert outside(repo.root) == around, "a file was written outside the output root"
    finally:
        repo.restore()


yaml_like = st.lists(st.sampled_from(TOKENS), max_size=40).map("".join)


def inputs() -> st.SearchStrategy[bytes]:
    """Bytes, YAML-like text, or YAML-like text spliced into the original document."""
    return st.one_of(
        st.binary(max_size=300),
        yaml_like.map(str.encode),
        st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass")),
    )


@SETTINGS
@given(data=inputs())
def test_fuzzed_stack_config(repo: Repo, data: bytes) -> None:
    check(repo, "csctl", data)


@SETTINGS
@given(data=inputs(), at=st.integers(min_value=0, max_value=2000))
def test_fuzzed_values(repo: Repo, data: bytes, at: int) -> None:
    original = repo.originals[TARGETS["values"]] or b""
    check(repo, "values", original[:at] + data + original[at:])


@SETTINGS
@given(data=inputs())
def test_fuzzed_template(repo: Repo, data: bytes) -> None:
    check(repo, "template", data)


@SETTINGS
@given(data=inputs(), at=st.integers(min_value=0, max_value=600))
def test_fuzzed_cluster_stack(repo: Repo, data: bytes, at: int) -> None:
    original = repo.originals[TARGETS["clusterstack"]] or b""
    check(repo, "clusterstack", original[:at] + data + original[at:])


@SETTINGS
@given(data=inputs())
def test_fuzzed_repository_config(repo: Repo, data: bytes) -> None:
    check(repo, "config", data)
