"""``csops validate``, ``render``, ``hash`` and ``ls``: the renderer's commands.

Why one long module: it holds the options, help texts and output of four commands that share
them; the work itself is in :mod:`csops.renderer`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from csops import console, options
from csops.errors import CommandFailed, Problem, ProblemError
from csops.renderer import (
    CustomVersions,
    RendererError,
    RenderResult,
    clean,
    custom_versions,
    dirhash_h1,
    hash_version,
    publish,
    render_repo,
    review,
    source_hashes,
    write,
)

repo_argument = click.argument(
    "repo", type=click.Path(file_okay=False, path_type=Path), default=".", required=False
)
mode_option = click.option(
    "--mode",
    type=click.Choice(["stable", "hash", "custom"]),
    default=None,
    help="Version mode (default: csops.yaml versionMode, else stable).",
)


def custom_options(command: Any) -> Any:
    """csctl's custom-mode flags: the three versions of one stack's new release."""
    for flag, what in reversed(
        (
            ("--cluster-stack-version", "cluster stack (and ClusterClass) version"),
            ("--cluster-addon-version", "cluster addon version"),
            ("--node-image-version", "node image version"),
        )
    ):
        command = click.option(flag, metavar="V", default=None, help=f"Custom mode: the {what}.")(
            command
        )
    return click.option(
        "--stack",
        metavar="P-N-M-m",
        default=None,
        help="Custom mode: the stack the versions are for (default: the only stack).",
    )(command)


def _custom(
    mode: str | None, stack: str | None, flags: tuple[str | None, str | None, str | None]
) -> tuple[str | None, CustomVersions] | None:
    """The custom versions of the command line, or None; usage errors exit 2."""
    versions = dict(zip(("clusterStack", "clusterAddon", "nodeImage"), flags, strict=True))
    if not any(versions.values()):
        if stack is not None:
            raise click.UsageError("--stack needs the three --*-version flags")
        return None
    if mode != "custom":
        raise click.UsageError("--cluster-stack-version and friends need --mode custom")
    try:
        return stack, custom_versions(versions)
    except RendererError as exc:
        raise click.UsageError("; ".join(p.message for p in exc.problems)) from exc


def default_base(repo: Path) -> str | None:
    """The review base: a CI's target branch (``$GITHUB_BASE_REF``), else ``origin/HEAD``."""
    return review.default_base(repo, os.environ.get("GITHUB_BASE_REF"))


def _check_base(repo: Path, base: str | None) -> None:
    """Review-time immutability: release bundles at ``base`` must be unchanged here."""
    ref = base if base is not None else default_base(repo)
    if ref is None:
        return
    problems = review.immutability_problems(repo, ref)
    if problems:
        raise ProblemError(problems)
    console.err.print(f"release bundles unchanged since {ref}")


base_option = click.option(
    "--base",
    metavar="REF",
    default=None,
    help="Fail if a release bundle that exists at REF is edited or deleted "
    "(default: origin/$GITHUB_BASE_REF, else origin/HEAD when present).",
)


def _run(repo: Path, fmt: str = "text", **kwargs: Any) -> RenderResult:
    with console.progress("rendering cluster stacks…"):
        result = render_repo(repo, **kwargs)
    if fmt == "text":
        console.problems(result.warnings, level="warning")
    return result


def _problem(problem: Problem) -> dict[str, Any]:
    """A problem as ``-o json`` prints it (for CI annotations: file, line, field, message)."""
    data: dict[str, Any] = {"file": problem.file, "message": problem.message}
    if problem.line is not None:
        data["line"] = problem.line
    if problem.field:
        data["field"] = problem.field
    if problem.hint:
        data["hint"] = problem.hint
    return data


@contextmanager
def reported(fmt: str) -> Iterator[dict[str, Any]]:
    """With ``-o json|yaml``: one document on stdout at the end, ``ok`` and every problem
    included, whatever happened; the exit code stays (1 on problems)."""
    data: dict[str, Any] = {}
    if fmt == "text":
        yield data
        return
    try:
        yield data
    except ProblemError as error:
        data.update(ok=False, problems=[_problem(p) for p in error.problems])
        console.structured(data, fmt)
        raise CommandFailed() from None
    except CommandFailed as error:
        data.update(ok=False, **({"error": str(error)} if str(error) else {}))
        console.structured(data, fmt)
        raise CommandFailed() from None
    data.setdefault("ok", True)
    console.structured(data, fmt)


def _no_stacks(repo: Path, result: RenderResult) -> ProblemError:
    """A repository with nothing to render (validate fails on it)."""
    config = result.config
    roots = ", ".join(f"{r}/" for r in config.roots)
    return ProblemError(
        Problem(
            str(repo),
            f"no stacks found: no stack sources (csctl.yaml or stack.yaml below {roots}), "
            f"no release bundles in {config.output}/releases/ and no ClusterStacks in "
            f"{config.cluster_stacks}/",
            hint="is this the stacks repository? csops.yaml `roots` says where sources live",
        )
    )


@click.command()
@repo_argument
@mode_option
@custom_options
@base_option
@options.output()
@options.render_limits
def validate(
    repo: Path,
    *,
    mode: str | None,
    base: str | None,
    stack: str | None,
    cluster_stack_version: str | None,
    cluster_addon_version: str | None,
    node_image_version: str | None,
    fmt: str,
) -> None:
    """Check a stacks repository: schemas, names, versions, charts and addons.

    Every problem is listed with its file, line and field. Nothing is written.
    With a base ref (a pull request's target), release bundles that exist there
    must be unchanged. Exit code 0 when the repository renders, 1 when it does
    not (or holds no stacks at all). -o json prints one object with every
    problem and warning, for CI annotations.
    """
    given = _custom(mode, stack, (cluster_stack_version, cluster_addon_version, node_image_version))
    with reported(fmt) as data:
        _check_base(repo, base)
        result = _run(repo, fmt, mode=mode, full=True, custom=given)
        data["warnings"] = [_problem(w) for w in result.warnings]
        if not result.releases and not result.offers:
            raise _no_stacks(repo, result)
        releases = len(result.releases)
        data.update(
            releases=sorted(result.releases),
            newReleases=result.new_releases,
            offered=len(result.offers),
        )
        console.err.print(
            f"ok: {releases} release{'s' if releases != 1 else ''}, "
            f"{len(result.new_releases)} new, {len(result.offers)} offered"
        )


@click.command()
@repo_argument
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output directory (default: csops.yaml output, else REPO/rendered).",
)
@mode_option
@custom_options
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; exit 1 and list stale files if the tree on disk differs.",
)
@click.option("--full", is_flag=True, help="Re-render everything through Helm (no reuse).")
@base_option
@click.option(
    "--commit",
    is_flag=True,
    help="Commit the rendered tree (only it) on HEAD; no commit when nothing changed.",
)
@click.option(
    "--branch",
    metavar="BRANCH",
    default=None,
    help="Commit the rendered tree to BRANCH, with its own history, instead of HEAD "
    "(the work tree and the checked-out branch are untouched). Implies --commit.",
)
@click.option(
    "--branch-path",
    metavar="PATH",
    default=None,
    help="Where the tree goes on --branch ('.' for its root; default: the output path).",
)
@click.option(
    "--push",
    "remote",
    is_flag=False,
    flag_value="origin",
    default=None,
    metavar="[REMOTE]",
    help="Push the render commit to REMOTE (default origin), retrying when the remote "
    "moved; never forced. Implies --commit.",
)
@click.option(
    "--push-branch",
    metavar="BRANCH",
    default=None,
    help="Remote branch to push HEAD to (default: the checked-out branch, else $GITHUB_REF_NAME).",
)
@click.option(
    "--retries",
    type=click.IntRange(0, 20),
    default=publish.DEFAULT_RETRIES,
    show_default=True,
    help="Push attempts after the first when the remote moved.",
)
@click.option(
    "--allow-dirty",
    is_flag=True,
    help="Commit even when files outside the rendered tree have changes.",
)
@options.output()
@options.render_limits
def render(
    repo: Path,
    *,
    out: Path | None,
    mode: str | None,
    check: bool,
    full: bool,
    base: str | None,
    commit: bool,
    branch: str | None,
    branch_path: str | None,
    remote: str | None,
    push_branch: str | None,
    retries: int,
    allow_dirty: bool,
    stack: str | None,
    cluster_stack_version: str | None,
    cluster_addon_version: str | None,
    node_image_version: str | None,
    fmt: str,
) -> None:
    """Render stack sources and ClusterStacks into the committed tree.

    \b
    New source states become new, immutable releases under releases/; every
    release a ClusterStack offers is rendered into manifests/ (one object per
    file). The tree is replaced atomically, and only when something changed.

    \b
    --commit commits the rendered tree with provenance trailers (Source-Commit,
    Csops-Version, Rendered-Releases); --branch does so on a separate branch
    (a source hydrator); --push pushes it, never forced.

    \b
    -o json prints one object: the files added, changed and removed, the
    releases cut, warnings, and every problem when the render fails.
    """
    given = _custom(mode, stack, (cluster_stack_version, cluster_addon_version, node_image_version))
    publishing = commit or branch is not None or remote is not None
    if remote is not None and any((Path(remote) / n).exists() for n in (".git", "csops.yaml")):
        raise click.UsageError(
            f"--push took {remote!r} as the remote, but it is a work tree: "
            "write REPO before --push, or name the remote (--push=origin)"
        )
    if publishing:
        if check or out is not None:
            raise click.UsageError(
                "--commit/--branch/--push cannot be combined with --check or --out"
            )
        if given is not None:
            raise click.UsageError(
                "--commit/--branch/--push take custom versions from csops.yaml "
                "(customVersions), not from the command line"
            )
        with reported(fmt) as data:
            _publish(
                repo,
                publish.PublishOptions(
                    mode=mode,
                    allow_dirty=allow_dirty,
                    branch=branch,
                    branch_path=branch_path,
                    remote=remote,
                    push_branch=push_branch,
                    detached_branch=os.environ.get("GITHUB_REF_NAME"),
                    retries=retries,
                ),
                data,
                fmt,
            )
        return
    with reported(fmt) as data:
        _render(repo, data, fmt, out=out, mode=mode, full=full, check=check, base=base, given=given)


def _render(
    repo: Path,
    data: dict[str, Any],
    fmt: str,
    *,
    out: Path | None,
    mode: str | None,
    full: bool,
    check: bool,
    base: str | None,
    given: tuple[str | None, CustomVersions] | None,
) -> None:
    """Render (or ``--check``) and say what changed, as text or into ``data``."""
    if check or base is not None:
        _check_base(repo, base)
    result = _run(repo, fmt, out=out, mode=mode, full=full or check, custom=given)
    diff = result.diff
    output = result.config.display(result.config.output_dir)
    data.update(
        output=output,
        added=list(diff.added),
        changed=list(diff.changed),
        removed=list(diff.removed),
        newReleases=result.new_releases,
        warnings=[_problem(w) for w in result.warnings],
    )
    if check:
        if diff:
            if fmt == "text":
                for label, paths in (
                    ("added", diff.added),
                    ("changed", diff.changed),
                    ("removed", diff.removed),
                ):
                    for path in paths:
                        console.out.print(f"{label}: {result.config.output}/{path}")
            raise CommandFailed("the rendered tree is stale: run `csops render` and commit it")
        console.err.print("the rendered tree is up to date")
        return
    written = write(result)
    data.update(written=written, helmRenders=result.helm_renders)
    if fmt == "text":
        for name in result.new_releases:
            console.out.print(f"release {name} cut")
    summary = (
        f"{len(diff.added)} added, {len(diff.changed)} changed, {len(diff.removed)} removed"
        if written
        else "unchanged"
    )
    console.err.print(
        f"{output}: {summary} "
        f"({result.helm_renders} Helm render{'s' if result.helm_renders != 1 else ''})"
    )


def _publish(repo: Path, options: publish.PublishOptions, data: dict[str, Any], fmt: str) -> None:
    with console.progress("rendering and committing…"):
        published = publish.publish(repo, options)
    where = published.ref.removeprefix("refs/heads/")
    data.update(
        ref=published.ref,
        commit=published.commit,
        newReleases=published.result.new_releases,
        pushedTo=published.pushed_to if published.pushed else None,
        warnings=[_problem(w) for w in published.result.warnings],
    )
    for note in published.notes:
        console.err.print(note)
    if fmt == "text":
        console.problems(published.result.warnings, level="warning")
        for name in published.result.new_releases:
            console.out.print(f"release {name} cut")
    if published.commit is None:
        console.err.print(f"nothing to commit: {where} already has this render")
    elif fmt == "text":
        subject = published.message.split("\n", 1)[0]
        console.out.print(f"[{where} {published.commit[:12]}] {subject}", markup=False)
    if published.pushed:
        tries = f" (attempt {published.attempts})" if published.attempts > 1 else ""
        console.err.print(f"pushed {published.head[:12]} to {published.pushed_to}{tries}")


@click.command(name="hash")
@click.argument("stack_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@options.output()
def hash_(stack_dir: Path, fmt: str) -> None:
    """Print csctl's hash of STACK_DIR and the hash-mode version it gives.

    The value is what `csctl create --mode hash` prints for the same directory.
    """
    h1 = dirhash_h1(stack_dir)
    cleaned = clean(h1)
    version = hash_version(cleaned)
    if fmt == "text":
        click.echo(f"{cleaned}\t{version.dot}")
        return
    hashes = {k: v for k, v in vars(source_hashes(stack_dir)).items() if v}
    console.structured({"h1": h1, "hash": cleaned, "version": version.dot, "hashes": hashes}, fmt)


@click.command(name="ls")
@repo_argument
@options.output()
def ls(repo: Path, fmt: str) -> None:
    """List stacks, their releases and ClusterClass names, and where they are offered."""
    result = _run(repo)
    offered: dict[str, list[str]] = {}
    for offer in result.offers:
        offered.setdefault(offer.release.name, []).append(offer.namespace)
    rows: list[dict[str, Any]] = [
        {
            "stack": r.stack.prefix,
            "release": r.name,
            "version": r.version.dot,
            "clusterClass": r.stack.class_name(r.version),
            "kubernetes": r.versions.kubernetes,
            "clusterAddon": r.versions.cluster_addon.dot,
            "nodeImage": r.versions.node_image.dot,
            "namespaces": sorted(offered.get(r.name, [])),
            "new": r.name in result.new_releases,
        }
        for r in sorted(result.releases.values(), key=lambda r: (r.stack, r.version))
    ]
    if fmt != "text":
        console.structured(rows, fmt)
        return
    console.table(
        ["STACK", "RELEASE", "CLUSTERCLASS", "K8S", "ADDON", "NODEIMAGE", "OFFERED IN"],
        [
            [
                row["stack"],
                row["release"] + (" (new)" if row["new"] else ""),
                row["clusterClass"],
                row["kubernetes"],
                row["clusterAddon"],
                row["nodeImage"],
                ",".join(row["namespaces"]) or "-",
            ]
            for row in rows
        ],
    )
