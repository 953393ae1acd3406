"""Compatibility harness: render every stack directory of a cluster-stacks checkout alone.

Not part of the test suite (it reads upstream checkouts that are never committed). For each
directory that holds ``csctl.yaml``, ``csmctl.yaml`` or ``stack.yaml`` it builds a throw-away
stacks repository holding only that directory (plus the version files beside it), renders it
offline in hash mode and sorts the outcome into:

- ``rendered``: the release was cut and its ClusterClass rendered;
- ``needs-network``: a chart dependency is declared but not vendored (the render stopped with
  csops's needs-network message);
- ``refused``: csops refused the stack, with the message;
- ``crashed``: anything else (a traceback; always a bug).

Usage::

    .venv/bin/python hack/compat/compat.py DIR...                 # work trees or stack dirs
    .venv/bin/python hack/compat/compat.py --git GITDIR --all-branches
    .venv/bin/python hack/compat/compat.py --git GITDIR --ref main --ref hcp --under tests

``--pin 1.32=1.32.5`` adds a minor → patch pin to the throw-away ``csops.yaml`` (generation-4
stacks name a minor only). ``-o json`` prints one record per stack directory.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from csops.renderer import RendererError, render_repo  # noqa: E402
from csops.renderer.errors import NEEDS_NETWORK  # noqa: E402

VERSION_FILES = ("versions.yaml",)
SKIP = {".git", "node_modules", ".release", ".tmp"}


@dataclass
class Outcome:
    """What happened to one stack directory."""

    source: str
    path: str
    digest: str
    result: str
    message: str = ""
    release: str = ""


def _mapping_with(path: Path, key: str) -> bool:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        return True  # malformed: csops must say so, so it counts
    return isinstance(data, dict) and key in data


def _is_stack(directory: Path, filenames: list[str]) -> bool:
    """A directory csctl takes (its csctl.yaml has ``config``) or the gen-4 scripts take (its
    stack.yaml names a stack). SCS also keeps Ansible task files called csctl.yaml and
    stack.yaml; csctl cannot read them, so they are not stacks."""
    for name, key in (("csctl.yaml", "config"), ("csmctl.yaml", "config")):
        if name in filenames and _mapping_with(directory / name, key):
            return True
    return "stack.yaml" in filenames and _mapping_with(directory / "stack.yaml", "clusterStackName")


def stack_dirs(tree: Path, under: str) -> Iterator[Path]:
    """Directories below ``tree/under`` that csctl (or the gen-4 scripts) would take."""
    base = tree / under if under else tree
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP)
        if _is_stack(Path(dirpath), filenames):
            dirnames.clear()
            yield Path(dirpath)


def tree_digest(directory: Path) -> str:
    """Content digest of a directory (to count distinct stack directories across branches)."""
    summary = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        rel = path.relative_to(directory).as_posix()
        summary.update(rel.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return summary.hexdigest()[:16]


def isolated_repo(stack: Path, tree: Path, work: Path, pins: dict[str, str]) -> Path:
    """A stacks repository holding only ``stack`` (and version files next to it)."""
    repo = work / "repo"
    if repo.exists():
        shutil.rmtree(repo)
    rel = stack.relative_to(tree)
    if not rel.parts:
        rel = Path("stack")
    # Keep upstream's own path: its stacks already live under providers/.
    target = repo / rel if rel.parts[0] == "providers" else repo / "providers" / rel
    shutil.copytree(stack, target, symlinks=True)
    for name in VERSION_FILES:
        if (stack.parent / name).is_file() and stack != tree:
            shutil.copyfile(stack.parent / name, target.parent / name)
    config = {"versionMode": "hash", "roots": ["providers"]}
    if pins:
        config["kubernetesVersions"] = pins
    (repo / "csops.yaml").write_text(yaml.safe_dump(config))
    return repo


def render_one(source: str, tree: Path, stack: Path, work: Path, pins: dict[str, str]) -> Outcome:
    """Render one stack directory alone and classify the outcome."""
    rel = stack.relative_to(tree).as_posix() or "."
    outcome = Outcome(source, rel, tree_digest(stack), "rendered")
    repo = isolated_repo(stack, tree, work, pins)
    try:
        result = render_repo(repo)
    except RendererError as exc:
        messages = [str(p) for p in exc.problems]
        network = [m for m in messages if NEEDS_NETWORK in m]
        outcome.result = "needs-network" if network and len(network) == len(messages) else "refused"
        outcome.message = " | ".join(messages)
    except Exception:
        outcome.result = "crashed"
        outcome.message = traceback.format_exc().strip().splitlines()[-1]
    else:
        outcome.release = ",".join(result.new_releases)
    return outcome


@contextlib.contextmanager
def checkout(git_dir: Path, ref: str) -> Iterator[Path]:
    """A temporary tree of ``ref`` from a (bare) git directory."""
    with tempfile.TemporaryDirectory(prefix="compat-tree-") as tmp:
        archive = subprocess.run(
            ["git", "-C", str(git_dir), "archive", ref], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        yield Path(tmp)


def branches(git_dir: Path) -> list[str]:
    """Every local branch of a git directory."""
    out = subprocess.run(
        ["git", "-C", str(git_dir), "for-each-ref", "--format=%(refname:short)", "refs/heads"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return sorted(line for line in out.splitlines() if line)


def offline_environment(cache: Path) -> None:
    """No network for Helm: an empty chart cache and a proxy that refuses every connection."""
    os.environ["CSOPS_CACHE_DIR"] = str(cache)
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        os.environ[key] = "http://127.0.0.1:9"
    for key in ("NO_PROXY", "no_proxy"):
        os.environ.pop(key, None)


def print_table(outcomes: list[Outcome]) -> None:
    """One line per stack directory, then the counts (all, and distinct directories)."""
    for o in outcomes:
        detail = o.release if o.result == "rendered" else o.message
        print(f"{o.source}\t{o.path}\t{o.result}\t{detail}")
    print()
    total = Counter(o.result for o in outcomes)
    distinct: dict[str, str] = {}
    for o in outcomes:
        distinct.setdefault(o.digest, o.result)
    unique = Counter(distinct.values())
    for label, counts in (("stack directories", total), ("distinct directories", unique)):
        parts = ", ".join(
            f"{counts.get(k, 0)} {k}" for k in ("rendered", "needs-network", "refused", "crashed")
        )
        print(f"{sum(counts.values())} {label}: {parts}")


def main(argv: list[str] | None = None) -> int:
    """Run the harness; exit 1 when a stack crashed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs="*", type=Path, help="checkouts or stack directories")
    parser.add_argument("--git", type=Path, help="a git directory to read refs from")
    parser.add_argument("--ref", action="append", default=[], help="a ref of --git (repeatable)")
    parser.add_argument("--all-branches", action="store_true", help="every branch of --git")
    parser.add_argument("--under", default="", help="only stacks below this path of each tree")
    parser.add_argument("--pin", action="append", default=[], help="MINOR=PATCH, e.g. 1.32=1.32.5")
    parser.add_argument("-o", dest="fmt", choices=["table", "json"], default="table")
    args = parser.parse_args(argv)
    pins = dict(p.split("=", 1) for p in args.pin)
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="compat-") as tmp:
        work = Path(tmp)
        offline_environment(work / "cache")
        for given in args.trees:
            tree = given.resolve()
            for stack in stack_dirs(tree, args.under):
                outcomes.append(render_one(str(tree), tree, stack, work, pins))
        if args.git:
            refs = branches(args.git) if args.all_branches else args.ref
            for ref in refs:
                with checkout(args.git, ref) as tree:
                    for stack in stack_dirs(tree, args.under):
                        outcomes.append(render_one(ref, tree, stack, work, pins))
    if args.fmt == "json":
        print(json.dumps([asdict(o) for o in outcomes], indent=2))
    else:
        print_table(outcomes)
    return 1 if any(o.result == "crashed" for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
