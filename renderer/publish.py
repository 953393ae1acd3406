"""Publishing the rendered tree to git: ``render --commit``, the hydrated branch, ``--push``.

Two ways to commit a render (DESIGN §1, flow 2):

- **in place**: the rendered tree is committed on top of HEAD (a branch or a detached HEAD, as
  CI checkouts are), with only the rendered tree in the commit;
- **hydrated branch** (Argo CD's source hydrator): the rendered tree is committed to another
  branch with its own history, built with a temporary index, so the work tree and the
  checked-out branch are untouched. The branch's own tree is the ledger of releases, so a
  render for it starts from that tree, not from the work tree.

No commit is made when nothing changed (the message comes from :mod:`~csops.renderer.commits`).
``--push`` never forces: when the remote moved, the in-place render commit is replayed onto the
new remote head if the new commits did not touch the stacks repository, and otherwise the new
source is rendered again; then it pushes again, a bounded number of times
(:func:`_with_retries`, the one retry loop of both modes).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from csops.gitrepo import GitError, Repository
from csops.renderer import commits, tree
from csops.renderer.config import load_config
from csops.renderer.errors import Problem
from csops.renderer.objectdiff import TreeChanges, compare_trees
from csops.renderer.render import RenderResult, render_repo, write
from csops.renderer.review import output_path

DEFAULT_RETRIES = 3
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
    detached_branch: str | None = None
    """In-place mode on a detached HEAD: the branch to push to (a CI's branch name)."""
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


# -- shared steps ------------------------------------------------------------------------------


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


def _record(
    git: Repository,
    published: Published,
    before: dict[str, bytes],
    new_tree: str,
    *,
    parent: str | None,
    source: str | None,
    dirty: bool,
    ref: str,
    expected: str | None,
    reflog: str,
) -> None:
    """Commit ``new_tree`` on ``parent`` with a message saying what changed, and move ``ref``."""
    changes = compare_trees(before, published.result.files)
    message = commits.commit_message(
        changes,
        source=source,
        source_subject=git.message(source).split("\n", 1)[0].strip() if source else "",
        dirty=dirty,
        releases=commits.lock_releases(published.result.files),
    )
    commit = git.commit_tree(new_tree, [parent] if parent else [], message)
    git.update_ref(ref, commit, expected, reflog)
    published.commit, published.head = commit, commit
    published.message, published.changes = message, changes


def _push(git: Repository, remote: str, head: str, branch: str, remote_head: str | None) -> bool:
    """Push ``head`` to ``branch``: True when accepted, False when the remote moved meanwhile."""
    pushed = git.push(remote, head, branch)
    if pushed.ok:
        return True
    if not pushed.rejected and git.remote_head(remote, branch) == remote_head:
        raise GitError(Problem(remote, f"push failed: {pushed.message}"))
    return False


Attempt = Callable[[list[str]], "Published | None"]


def _with_retries(opts: PublishOptions, attempt: Attempt) -> Published:
    """Run ``attempt`` (render, commit, push) until it returns, at most ``1 + retries`` times.

    An attempt returns ``None`` when the remote moved under it; it adds what happened to the
    notes it is given.
    """
    notes: list[str] = []
    for number in range(1, opts.retries + 2):
        published = attempt(notes)
        if published is not None:
            published.attempts, published.notes = number, notes
            return published
    raise GitError(
        Problem(
            opts.remote or "",
            f"gave up after {opts.retries + 1} attempts: the remote keeps moving",
            hint="run again, or serialise render jobs (a CI concurrency group)",
        )
    )


# -- in place ----------------------------------------------------------------------------------


def _commit_here(git: Repository, root: Path, opts: PublishOptions) -> Published:
    config = load_config(root)
    out_rel = output_path(git, config.output_dir)
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
    head = git.require_head()
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


def _push_target(git: Repository, opts: PublishOptions) -> str | None:
    """The remote branch in-place mode pushes to (``None`` without ``--push``)."""
    if opts.remote is None:
        return None
    target = opts.push_branch or git.branch() or opts.detached_branch or None
    if target is None:
        raise GitError(
            Problem(
                str(git.top),
                "HEAD is detached, so there is no branch to push to",
                hint="pass --push-branch BRANCH",
            )
        )
    return target.removeprefix("refs/heads/")


def _publish_here(git: Repository, root: Path, opts: PublishOptions) -> Published:
    out_rel = output_path(git, load_config(root).output_dir)
    target = _push_target(git, opts)

    def attempt(notes: list[str]) -> Published | None:
        published = _commit_here(git, root, opts)
        if opts.remote is None or target is None:
            return published
        head = git.require_head()
        remote_head = git.remote_head(opts.remote, target)
        if remote_head == head:
            notes.append(f"{opts.remote} {target} is already at {head[:12]}")
            return published
        if remote_head is None or git.is_ancestor(remote_head, head):
            if _push(git, opts.remote, head, target, remote_head):
                published.pushed, published.pushed_to = True, f"{opts.remote} {target}"
                return published
            notes.append(f"push rejected: {opts.remote} {target} moved")
        fetched = git.fetch(opts.remote, target)
        if fetched is not None:
            notes.append(_integrate(git, root, out_rel, fetched))
        return None

    return _with_retries(opts, attempt)


# -- hydrated branch ---------------------------------------------------------------------------


def _commit_branch(
    git: Repository, root: Path, opts: PublishOptions, branch: str, base: str | None
) -> Published:
    config = load_config(root)
    prefix = opts.branch_path
    if prefix is None:
        prefix = output_path(git, config.output_dir)
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
    def attempt(notes: list[str]) -> Published | None:
        remote_head = None
        if opts.remote is not None:
            remote_head = git.fetch(opts.remote, branch)
        elif git.branch_head(branch) is None:
            remote_head = git.resolve(f"refs/remotes/origin/{branch}")
        base = _branch_base(git, branch, remote_head)
        published = _commit_branch(git, root, opts, branch, base)
        if opts.remote is None:
            return published
        head = published.head
        if head == remote_head:
            notes.append(f"{opts.remote} {branch} is already at {head[:12]}")
            return published
        if _push(git, opts.remote, head, branch, remote_head):
            published.pushed, published.pushed_to = True, f"{opts.remote} {branch}"
            return published
        notes.append(f"push rejected: {opts.remote} {branch} moved; rendering on its new head")
        return None

    return _with_retries(opts, attempt)


def publish(root: Path, opts: PublishOptions) -> Published:
    """Render ``root`` and commit the rendered tree (and push it), as ``opts`` says."""
    git = Repository(root)
    if opts.branch:
        return _publish_branch(git, root.resolve(), opts, opts.branch)
    return _publish_here(git, root.resolve(), opts)
