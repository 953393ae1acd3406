"""``csops diff``: what a change does to the rendered tree, object by object.

The base tree is read from git at a ref; the other side is a fresh render of the work tree,
so the diff shows what the pull request's render will change even before it is committed.
``--cluster`` compares a fresh render with the live management cluster instead: the syncer's
dry-run diff (server-side apply with ``dryRun``), so nothing in the cluster changes.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import click

from csops import console, options
from csops.commands.render import _run, default_base, mode_option, repo_argument
from csops.errors import CommandFailed
from csops.renderer import diffreport, objectdiff, publish, review

FORMATS = ("text", "markdown", "json")
_STYLES = (("+++", "bold"), ("---", "bold"), ("@@", "cyan"), ("+", "green"), ("-", "red"))


def _emit(text: str, fmt: str) -> None:
    if fmt == "text" and console.out.is_terminal:
        _colour(text)
    else:
        click.echo(text, nl=False)


def _colour(text: str) -> None:
    for line in text.splitlines():
        style = next((s for prefix, s in _STYLES if line.startswith(prefix)), None)
        if line.startswith("~ "):
            style = "yellow"
        console.out.print(line, style=style, markup=False, highlight=False)


def _cluster_report(report: Any, fmt: str) -> str:
    """Text, Markdown or JSON of the syncer's :class:`~syncer.diff.ClusterDiff`."""
    entries = [
        (d.action, str(d.id), d.diff, d.reason)
        for d in (*report.added, *report.changed, *report.removed, *report.kept)
    ]
    errors = {str(k): v for k, v in sorted(report.errors.items(), key=lambda kv: str(kv[0]))}
    waiting = {str(k): v for k, v in sorted(report.waiting.items(), key=lambda kv: str(kv[0]))}
    if fmt == "json":
        data = {
            "objects": [
                {"action": a, "object": o, "diff": d, **({"reason": r} if r else {})}
                for a, o, d, r in entries
            ],
            "errors": errors,
            "waiting": waiting,
        }
        return json.dumps(data, indent=2, sort_keys=True) + "\n"
    counts = (
        f"{len(report.added)} to add, {len(report.changed)} to change, "
        f"{len(report.removed)} to remove"
    ) + (f", {len(waiting)} waiting for node images" if waiting else "")
    counts += f", {len(report.kept)} kept" if report.kept else ""
    marks = {"added": "+", "changed": "~", "removed": "-", "kept": "="}

    def line(action: str, obj: str, reason: str, quote: str = "") -> str:
        why = f" (kept: {reason})" if reason else ""
        return f"{marks[action]} {quote}{obj}{quote}{why}"

    if fmt == "markdown":
        lines = ["### csops diff --cluster", "", f"**{counts}**", ""]
        lines += [f"- {line(a, o, r, '`')}" for a, o, _, r in entries]
        lines += [f"- ⚠️ `{o}`: {e}" for o, e in errors.items()]
        lines += [f"- ⏳ `{o}`: {w}" for o, w in waiting.items()]
        diffs = [f"```diff\n{d}```\n" for _, _, d, _ in entries if d]
        return "\n".join(lines) + "\n\n" + "\n".join(diffs)
    if report.empty and not errors and not waiting and not report.kept:
        return "The cluster is in sync with the render.\n"
    lines = [counts, ""] + [line(a, o, r) for a, o, _, r in entries]
    lines += [f"error: {o}: {e}" for o, e in errors.items()]
    lines += [f"waiting: {o}: {w}" for o, w in waiting.items()]
    return "\n".join(lines) + "\n\n" + "".join(d for _, _, d, _ in entries if d)


def _cluster_diff(
    repo: Path,
    *,
    fmt: str,
    mode: str | None,
    kubeconfig: Path | None,
    context: str | None,
    name: str,
    inventory_namespace: str,
) -> tuple[str, bool, bool]:
    """Render afresh and ask the syncer what applying it would change (a dry run)."""
    try:
        from csops.syncer.diff import cluster_diff
        from csops.syncer.kube import Kube
    except ImportError as exc:  # a renderer-only installation
        raise CommandFailed(f"--cluster needs the syncer: {exc}") from exc
    result = _run(repo, mode=mode)
    with tempfile.TemporaryDirectory(prefix="csops-diff-") as tmp:
        manifests = Path(tmp) / "manifests"
        for path, data in result.files.items():
            if path.startswith("manifests/"):
                target = Path(tmp) / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        kube = Kube.from_kubeconfig(kubeconfig, context=context)
        try:
            report = cluster_diff(
                manifests, kube, name=name, inventory_namespace=inventory_namespace
            )
        finally:
            kube.close()
    return _cluster_report(report, fmt), not report.empty, bool(report.errors)


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
@options.kubeconfig(
    "With --cluster: kubeconfig (default: $KUBECONFIG, in-cluster, then ~/.kube/config)."
)
@options.context
@click.option(
    "--name", default="csops", show_default=True, help="With --cluster: the sync's inventory name."
)
@options.inventory_namespace("With --cluster: namespace of the sync's inventory Secret.")
@options.render_limits
def diff(
    repo: Path,
    *,
    base: str | None,
    base_path: str | None,
    fmt: str,
    mode: str | None,
    exit_code: bool,
    cluster: bool,
    kubeconfig: Path | None,
    context: str | None,
    name: str,
    inventory_namespace: str,
) -> None:
    """Show which objects and releases a change adds, changes or removes.

    \b
    Compares the rendered tree at REF with a fresh render of the work tree:
    objects by identity (group, kind, namespace, name) with a unified YAML diff
    for each changed one, releases that appear or disappear, and the
    ClusterClasses a Cluster could now move to.
    """
    if cluster:
        text, differs, failed = _cluster_diff(
            repo,
            fmt=fmt,
            mode=mode,
            kubeconfig=kubeconfig,
            context=context,
            name=name,
            inventory_namespace=inventory_namespace,
        )
        _emit(text, fmt)
        if failed or (exit_code and differs):
            raise CommandFailed()
        return
    ref = base or default_base(repo) or "HEAD"
    old = review.base_tree(repo, ref, path=base_path)
    if base_path is None:
        result = _run(repo, mode=mode)
    else:  # the base is a hydrated branch: versions continue from its tree, not the disk's
        result = publish.render_on(repo, old, mode=mode)
        console.problems(result.warnings, level="warning")
    changes = objectdiff.compare_trees(old, result.files)
    if fmt == "json":
        text = diffreport.to_json(changes)
    elif fmt == "markdown":
        text = diffreport.to_markdown(changes, base=ref)
    else:
        text = diffreport.to_text(changes)
    _emit(text, fmt)
    if exit_code and changes:
        raise CommandFailed()
