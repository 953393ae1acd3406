"""``csops diff``: what a change does to the rendered tree, object by object.

The base tree is read from git at a ref; the other side is a fresh render of the work tree,
so the diff shows what the pull request's render will change even before it is committed.
``--cluster`` compares with the live management cluster instead (the syncer's diff).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import click

from csops import console
from csops.commands.render import EXIT_FAILED, _fail, _run, mode_option, repo_argument
from renderer import RendererError, objectdiff, publish

FORMATS = ("text", "markdown", "json")
_STYLES = (("+++", "bold"), ("---", "bold"), ("@@", "cyan"), ("+", "green"), ("-", "red"))


def _colour(text: str) -> None:
    for line in text.splitlines():
        style = next((s for prefix, s in _STYLES if line.startswith(prefix)), None)
        if line.startswith("~ "):
            style = "yellow"
        console.out.print(line, style=style, markup=False, highlight=False)


def _cluster_diff(repo: Path, fmt: str, kubeconfig: str | None, context: str | None) -> None:
    try:
        module = importlib.import_module("syncer.diff")
    except ImportError as exc:
        console.err.print(
            f"[red]error:[/] --cluster needs the syncer's diff (syncer.diff), "
            f"which this installation lacks: {exc}"
        )
        sys.exit(EXIT_FAILED)
    cluster_diff: Any = getattr(module, "cluster_diff", None)
    if cluster_diff is None:
        console.err.print("[red]error:[/] syncer.diff has no cluster_diff()")
        sys.exit(EXIT_FAILED)
    code = cluster_diff(repo, output=fmt, kubeconfig=kubeconfig, context=context)
    sys.exit(int(code or 0))


@click.command()
@repo_argument
@click.option(
    "--base",
    metavar="REF",
    default=None,
    help="Git ref to compare with (default: origin/$GITHUB_BASE_REF, else origin/HEAD, else HEAD).",
)
@click.option(
    "--base-path",
    metavar="PATH",
    default=None,
    help="Where the rendered tree is at REF, when REF is a branch written by "
    "`render --branch` ('.' for its root). The fresh render then continues from that "
    "tree's releases instead of the work tree's.",
)
@click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    help="text (coloured on a terminal), markdown (for a pull-request comment) or json.",
)
@mode_option
@click.option("--exit-code", is_flag=True, help="Exit 1 when there are differences.")
@click.option(
    "--cluster",
    is_flag=True,
    help="Compare the render with the live management cluster (what a sync would change).",
)
@click.option("--kubeconfig", default=None, help="With --cluster: kubeconfig file.")
@click.option("--context", default=None, help="With --cluster: kubeconfig context.")
def diff(
    repo: Path,
    *,
    base: str | None,
    base_path: str | None,
    fmt: str,
    mode: str | None,
    exit_code: bool,
    cluster: bool,
    kubeconfig: str | None,
    context: str | None,
) -> None:
    """Show which objects and releases a change adds, changes or removes.

    \b
    Compares the rendered tree at REF with a fresh render of the work tree:
    objects by identity (group, kind, namespace, name) with a unified YAML diff
    for each changed one, releases that appear or disappear, and the
    ClusterClasses a Cluster could now move to.
    """
    if cluster:
        _cluster_diff(repo, fmt, kubeconfig, context)
    try:
        ref = base or publish.default_base(repo) or "HEAD"
        old = publish.base_tree(repo, ref, path=base_path)
    except RendererError as exc:
        _fail(exc.problems)
    if base_path is None:
        result = _run(repo, mode=mode)
    else:  # the base is a hydrated branch: versions continue from its tree, not the disk's
        try:
            result = publish.render_on(repo, old, mode=mode)
        except RendererError as exc:
            _fail(exc.problems)
        console.problems(result.warnings, level="warning")
    changes = objectdiff.compare_trees(old, result.files)
    if fmt == "json":
        click.echo(objectdiff.to_json(changes), nl=False)
    elif fmt == "markdown":
        click.echo(objectdiff.to_markdown(changes, base=ref), nl=False)
    elif console.out.is_terminal:
        _colour(objectdiff.to_text(changes))
    else:
        click.echo(objectdiff.to_text(changes), nl=False)
    if exit_code and changes:
        sys.exit(EXIT_FAILED)
