"""Publishing the rendered tree to git: ``render --commit``, the hydrated branch, ``--push``.

Two ways to commit a render (DESIGN §1, flow 2):

- **in place**: the rendered tree is committed on top of HEAD (a branch or a detached HEAD, as
  CI checkouts are), with only the rendered tree in the commit;
- **hydrated branch** (Argo CD's source hydrator): the rendered tree is committed to another
  branch with its own history, built with a temporary index, so the work tree and the
  checked-out branch are untouched. The branch's own tree is the ledger of releases, so a
  render for it starts from that tree, not from the work tree.

Every render commit says what changed and carries trailers naming the source commit and the
csops version; no commit is made when nothing changed. ``--push`` never forces: when the remote
moved, the render commit is replayed onto the new remote head if the new commits did not touch
the stacks repository, and otherwise the new source is rendered again; then it pushes again, a
bounded number of times.

Also here: the review-time immutability check (release bundles that exist at a base ref must
be unchanged in the work tree), which the CLI runs for ``validate`` and ``render --check``.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from csops.renderer import lock, tree
from csops.renderer.config import load_config
from csops.renderer.errors import GitError, Problem
from csops.renderer.objectdiff import TreeChanges, compare_trees, release_edits
from csops.renderer.render import VERSION, RenderResult, render_repo, write
from csops.renderer.repository import Repository

SUBJECT_PREFIX = "render"
TRAILER_SOURCE = "Source-Commit"
TRAILER_VERSION = "Csops-Version"
TRAILER_RELEASES = "Rendered-Releases"
TRAILER_DIRTY = "Source-Dirty"
DEFAULT_RETRIES = 3
_NAMES_IN_SUBJECT = 2
_DIRTY_SHOWN = 10


@dataclass(frozen=True)
class PublishOptions:
    """How to commit and push a render."""

    mode: str | None = None
    allow_dirty: bool = False
    branch: str | None = None
    """Hydrated-branch mode: commit to this branch instead of HEAD."""
    branch_path: str | None = None
    """Where the tree goes on the hydrated branch ("" = its root); default: the output path."""
    remote: str | None = None
    """Push to this remote (name or URL) after committing."""
    push_branch: str | None = None
    """Remote branch for in-place mode (default: the checked-out branch)."""
    retries: int = DEFAULT_RETRIES


@dataclass
class Published:
    """What a publish did."""

    result: RenderResult
    ref: str
    head: str
    commit: str | None = None
    message: str = ""
    changes: TreeChanges = field(default_factory=TreeChanges)
    pushed: bool = False
    pushed_to: str = ""
    attempts: int = 1
    notes: list[str] = field(default_factory=list)


# -- commit messages ---------------------------------------------------------------------------


def _names(names: tuple[str, ...] | list[str]) -> str:
    shown = ", ".join(names[:_NAMES_IN_SUBJECT])
    return shown + (", …" if len(names) > _NAMES_IN_SUBJECT else "")


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def commit_message(
    changes: TreeChanges,
    *,
    source: str | None,
    source_subject: str = "",
    dirty: bool = False,
    releases: list[str] | None = None,
) -> str:
    """Subject, body and trailers of a render commit."""
    parts = []
    if changes.releases_added:
        parts.append(
            f"{_count(len(changes.releases_added), 'release')} added "
            f"({_names(changes.releases_added)})"
        )
    stacks = changes.stacks_changed
    if stacks:
        parts.append(f"{_count(len(stacks), 'stack')} changed")
    if not parts:
        touched = len(changes.objects) or 1
        parts.append(f"{_count(touched, 'object')} changed")
    lines = [f"{SUBJECT_PREFIX}: {', '.join(parts)}", ""]
    if source:
        lines.append(
            f"Rendered from {source[:12]}"
            + (f" ({source_subject})" if source_subject else "")
            + "."
        )
    lines.append(
        f"Objects: {changes.count('added')} added, {changes.count('changed')} changed, "
        f"{changes.count('removed')} removed."
    )
    if changes.releases_added:
        lines.append(f"Releases added: {', '.join(changes.releases_added)}.")
    if changes.releases_removed:
        lines.append(f"Releases removed: {', '.join(changes.releases_removed)}.")
    if stacks:
        lines.append(f"Stacks changed: {', '.join(stacks)}.")
    lines.append("")
    if source:
        lines.append(f"{TRAILER_SOURCE}: {source}")
    if dirty:
        lines.append(f"{TRAILER_DIRTY}: true")
    lines.append(f"{TRAILER_VERSION}: {VERSION}")
    if releases:
        lines.append(f"{TRAILER_RELEASES}: {', '.join(releases)}")
    return "\n".join(lines) + "\n"


def _lock_releases(files: dict[str, bytes]) -> list[str]:
    data = files.get(lock.LOCK_FILE)
    if not data:
        return []
    return sorted((json.loads(data).get("releases") or {}).keys())


def _subject(git: Repository, commit: str | None) -> str:
    if commit is None:
        return ""
    return git.message(commit).split("\n", 1)[0].strip()


# -- preconditions -----------------------------------------------------------------------------


def _refuse_dirty(git: Repository, root: Path, output: Path, allow_dirty: bool) -> bool:
    """Refuse when anything in the stacks repository but the rendered tree has changes."""
    root_rel = git.relative(root)
    try:
        out_rel = git.relative(output)
    except GitError:
        out_rel = ""
    lines = git.status(root_rel, [out_rel])
    if lines and not allow_dirty:
        shown = "\n  ".join(lines[:_DIRTY_SHOWN])
        more = f"\n  … and {len(lines) - _DIRTY_SHOWN} more" if len(lines) > _DIRTY_SHOWN else ""
        raise GitError(
            Problem(
                str(git.top / root_rel) if root_rel else str(git.top),
                f"has changes outside the rendered tree:\n  {shown}{more}",
                hint="commit or stash them first, so the render commit names the source it "
                "was made from; or pass --allow-dirty",
            )
        )
    return bool(lines)


def _output_rel(git: Repository, output: Path) -> str:
    rel = git.relative(output)
    if not rel:
        raise GitError(Problem(str(output), "the output directory is the top of the git work tree"))
    return rel


# -- in place ----------------------------------------------------------------------------------


def _record(
    git: Repository,
    published: Published,
    before: dict[str, bytes],
    tree: str,
    *,
    parent: str | None,
    source: str | None,
    dirty: bool,
    ref: str,
    expected: str | None,
    reflog: str,
) -> None:
    """Commit ``tree`` on ``parent`` with a message saying what changed, and move ``ref``."""
    changes = compare_trees(before, published.result.files)
    message = commit_message(
        changes,
        source=source,
        source_subject=_subject(git, source),
        dirty=dirty,
        releases=_lock_releases(published.result.files),
    )
    commit = git.commit_tree(tree, [parent] if parent else [], message)
    git.update_ref(ref, commit, expected, reflog)
    published.commit, published.head = commit, commit
    published.message, published.changes = message, changes


def _commit_here(git: Repository, root: Path, opts: PublishOptions) -> Published:
    config = load_config(root)
    out_rel = _output_rel(git, config.output_dir)
    dirty = _refuse_dirty(git, root, config.output_dir, opts.allow_dirty)
    head = git.head()
    result = render_repo(root, mode=opts.mode)
    write(result)
    base_files = git.read_tree(head, out_rel) if head else {}
    new_tree = git.build_tree(head, out_rel, result.files)
    published = Published(result, git.branch() or "HEAD", head or "")
    if head is not None and new_tree == git.tree_id(head):
        return published
    _record(
        git,
        published,
        base_files,
        new_tree,
        parent=head,
        source=head,
        dirty=dirty,
        ref="HEAD",
        expected=head,
        reflog="csops render --commit",
    )
    git.sync_index(out_rel)
    return published


def _integrate(git: Repository, root: Path, out_rel: str, remote_head: str) -> str:
    """Bring HEAD onto the remote's new head; return a note on how.

    Only render commits (commits that change nothing but the rendered tree) may be replayed
    or dropped; any other local commit the remote lacks stops the push.
    """
    head = git.head()
    assert head is not None
    base = git.merge_base(head, remote_head)
    if base is None or git.changed_paths(base, head, [":(top)", f":(top,exclude){out_rel}"]):
        raise GitError(
            Problem(
                str(git.top),
                "HEAD has commits besides render commits that the remote branch lacks, "
                "and the remote moved",
                hint="integrate them by hand (git pull --rebase) and run again; "
                "csops never force-pushes",
            )
        )
    short = remote_head[:12]
    if base == head:
        git.reset_keep(remote_head)
        return f"fast-forwarded to {short}; rendering on it"
    root_rel = git.relative(root)
    if not git.changed_paths(base, remote_head, [f":(top){root_rel}"]):
        grafted = git.graft_tree(remote_head, out_rel, head)
        if grafted == git.tree_id(remote_head):
            git.reset_keep(remote_head)
            return f"the remote already has this render ({short})"
        replayed = git.commit_tree(grafted, [remote_head], git.message(head))
        git.reset_keep(replayed)
        git.sync_index(out_rel)
        return f"the remote moved to {short} without touching the stacks: rebased the render"
    git.reset_keep(remote_head)
    return f"the stacks changed at {short}: rendering them again"


def _publish_here(git: Repository, root: Path, opts: PublishOptions) -> Published:
    config = load_config(root)
    out_rel = _output_rel(git, config.output_dir)
    target = None
    if opts.remote is not None:
        target = opts.push_branch or git.branch() or os.environ.get("GITHUB_REF_NAME") or None
        if target is None:
            raise GitError(
                Problem(
                    str(git.top),
                    "HEAD is detached, so there is no branch to push to",
                    hint="pass --push-branch BRANCH",
                )
            )
        target = target.removeprefix("refs/heads/")
    notes: list[str] = []
    for attempt in range(1, opts.retries + 2):
        published = _commit_here(git, root, opts)
        published.attempts, published.notes = attempt, notes
        if opts.remote is None or target is None:
            return published
        head = git.head()
        assert head is not None
        remote_head = git.remote_head(opts.remote, target)
        if remote_head == head:
            notes.append(f"{opts.remote} {target} is already at {head[:12]}")
            return published
        if remote_head is None or git.is_ancestor(remote_head, head):
            pushed = git.push(opts.remote, head, target)
            if pushed.ok:
                published.pushed, published.pushed_to = True, f"{opts.remote} {target}"
                return published
            if not pushed.rejected and git.remote_head(opts.remote, target) == remote_head:
                raise GitError(Problem(opts.remote, f"push failed: {pushed.message}"))
            notes.append(f"push rejected: {opts.remote} {target} moved")
        fetched = git.fetch(opts.remote, target)
        if fetched is None:
            continue
        notes.append(_integrate(git, root, out_rel, fetched))
    raise GitError(
        Problem(
            opts.remote or "",
            f"gave up after {opts.retries + 1} attempts: the remote keeps moving",
            hint="run again, or serialise render jobs (a CI concurrency group)",
        )
    )


# -- hydrated branch ---------------------------------------------------------------------------


def _commit_branch(
    git: Repository, root: Path, opts: PublishOptions, branch: str, base: str | None
) -> Published:
    config = load_config(root)
    prefix = opts.branch_path
    if prefix is None:
        prefix = _output_rel(git, config.output_dir)
    prefix = prefix.strip("/")
    prefix = "" if prefix == "." else prefix
    dirty = _refuse_dirty(git, root, config.output_dir, opts.allow_dirty)
    source = git.head()
    ref = f"refs/heads/{branch}"
    local = git.branch_head(branch)
    existing = git.read_tree(base, prefix) if base else {}
    result = render_on(root, existing, mode=opts.mode)
    published = Published(result, ref, base or "")
    new_tree = git.build_tree(base, prefix, result.files)
    if base is not None and new_tree == git.tree_id(base):
        if local != base:
            git.update_ref(ref, base, local, "csops render --branch: fast-forward")
        return published
    _record(
        git,
        published,
        existing,
        new_tree,
        parent=base,
        source=source,
        dirty=dirty,
        ref=ref,
        expected=local,
        reflog=f"csops render --branch {branch}",
    )
    return published


def render_on(root: Path, existing: dict[str, bytes], *, mode: str | None = None) -> RenderResult:
    """Render ``root`` on top of another rendered tree (a hydrated branch's) instead of disk.

    That tree is the ledger of releases, so versions continue from it; nothing is written to
    the work tree.
    """
    with tempfile.TemporaryDirectory(prefix="csops-hydrate-") as tmp:
        out = Path(tmp) / "rendered"
        if existing:
            tree.write_tree(out, existing)
        return render_repo(root, mode=mode, out=out)


def _branch_base(git: Repository, branch: str, remote_head: str | None) -> str | None:
    local = git.branch_head(branch)
    if remote_head is None:
        return local
    if local is None or git.is_ancestor(local, remote_head):
        return remote_head
    if git.is_ancestor(remote_head, local):
        return local
    raise GitError(
        Problem(
            f"refs/heads/{branch}",
            "has diverged from the remote branch",
            hint=f"reset it to the remote (git branch -f {branch} <remote>/{branch}) and "
            "run again; csops never force-pushes",
        )
    )


def _publish_branch(git: Repository, root: Path, opts: PublishOptions, branch: str) -> Published:
    notes: list[str] = []
    for attempt in range(1, opts.retries + 2):
        remote_head = None
        if opts.remote is not None:
            remote_head = git.fetch(opts.remote, branch)
        elif git.branch_head(branch) is None:
            remote_head = git.resolve(f"refs/remotes/origin/{branch}")
        base = _branch_base(git, branch, remote_head)
        published = _commit_branch(git, root, opts, branch, base)
        published.attempts, published.notes = attempt, notes
        if opts.remote is None:
            return published
        head = git.branch_head(branch)
        assert head is not None
        if head == remote_head:
            notes.append(f"{opts.remote} {branch} is already at {head[:12]}")
            return published
        pushed = git.push(opts.remote, head, branch)
        if pushed.ok:
            published.pushed, published.pushed_to = True, f"{opts.remote} {branch}"
            return published
        if not pushed.rejected and git.remote_head(opts.remote, branch) == remote_head:
            raise GitError(Problem(opts.remote, f"push failed: {pushed.message}"))
        notes.append(f"push rejected: {opts.remote} {branch} moved; rendering on its new head")
    raise GitError(
        Problem(
            opts.remote or "",
            f"gave up after {opts.retries + 1} attempts: the remote keeps moving",
            hint="run again, or serialise render jobs (a CI concurrency group)",
        )
    )


def publish(root: Path, opts: PublishOptions) -> Published:
    """Render ``root`` and commit the rendered tree (and push it), as ``opts`` says."""
    git = Repository(root)
    if opts.branch:
        return _publish_branch(git, root.resolve(), opts, opts.branch)
    return _publish_here(git, root.resolve(), opts)


# -- review-time immutability -----------------------------------------------------------------


def default_base(root: Path) -> str | None:
    """The base ref of a review: ``$GITHUB_BASE_REF`` (as ``origin/<ref>``), else ``origin/HEAD``.

    ``None`` when neither exists. A ``$GITHUB_BASE_REF`` that cannot be found is an error:
    a shallow CI checkout would otherwise skip the check without a word.
    """
    try:
        git = Repository(root)
    except GitError:
        return None
    env = os.environ.get("GITHUB_BASE_REF", "").strip()
    if env:
        for candidate in (f"origin/{env}", env):
            if git.resolve(candidate):
                return candidate
        raise GitError(
            Problem(
                env,
                "GITHUB_BASE_REF names a branch that is not in this clone",
                hint="fetch it (actions/checkout with fetch-depth: 0) or pass --base",
            )
        )
    return "origin/HEAD" if git.resolve("origin/HEAD") else None


def base_tree(root: Path, base: str, *, path: str | None = None) -> dict[str, bytes]:
    """The rendered tree of the stacks repository at ``root`` as it is at ``base``.

    ``path`` says where the tree is at ``base`` (``"."``: the root, as on a hydrated branch);
    by default it is the output path of the work tree.
    """
    git = Repository(root)
    if git.resolve(base) is None:
        raise GitError(
            Problem(base, "is not a commit in this repository", hint="fetch it or fix --base")
        )
    if path is not None:
        rel = path.strip("/")
        return git.read_tree(base, "" if rel == "." else rel)
    config = load_config(root)
    return git.read_tree(base, _output_rel(git, config.output_dir))


def immutability_problems(root: Path, base: str) -> list[Problem]:
    """Release bundles present at ``base`` that the work tree edits or deletes."""
    config = load_config(root)
    old = base_tree(root, base)
    current = tree.read_tree(config.output_dir)
    problems = []
    for name, kinds in release_edits(old, current).items():
        where = f"{config.output}/releases/{name}"
        if "deleted" in kinds:
            problems.append(
                Problem(
                    where,
                    f"release {name} exists at {base} and was deleted",
                    hint=f"releases are immutable; restore it: git checkout {base} -- {where}",
                )
            )
            continue
        detail = "; ".join(f"{kind}: {', '.join(paths)}" for kind, paths in kinds.items())
        problems.append(
            Problem(
                where,
                f"release {name} exists at {base} and was modified ({detail})",
                hint="releases are immutable: restore the bundle "
                f"(git checkout {base} -- {where}) and change the stack source instead, "
                "which cuts a new version",
            )
        )
    return problems
