"""Review-time checks against a base ref: the rendered tree there, and release immutability.

A pull request may add releases but never edit or delete one that exists at its base: the
CLI runs :func:`immutability_problems` for ``validate`` and ``render --check``, and
:func:`base_tree` gives ``diff`` the tree to compare with. Environment variables are the
CLI's business: a CI's base branch arrives here as an argument.
"""

from __future__ import annotations

from pathlib import Path

from csops.gitrepo import GitError, Repository
from csops.renderer import tree
from csops.renderer.config import load_config
from csops.renderer.errors import Problem
from csops.renderer.objectdiff import release_edits


def output_path(git: Repository, output: Path) -> str:
    """The output directory relative to the top of the work tree (never the top itself)."""
    rel = git.relative(output)
    if not rel:
        raise GitError(Problem(str(output), "the output directory is the top of the git work tree"))
    return rel


def default_base(root: Path, ci_base: str | None = None) -> str | None:
    """The base ref of a review: ``ci_base`` (a CI's target branch, as ``origin/<ref>``), else
    ``origin/HEAD``; ``None`` when neither exists.

    A ``ci_base`` that cannot be found is an error: a shallow CI checkout would otherwise skip
    the check without a word.
    """
    try:
        git = Repository(root)
    except GitError:
        return None
    wanted = (ci_base or "").strip()
    if wanted:
        for candidate in (f"origin/{wanted}", wanted):
            if git.resolve(candidate):
                return candidate
        raise GitError(
            Problem(
                wanted,
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
    return git.read_tree(base, output_path(git, config.output_dir))


def immutability_problems(root: Path, base: str) -> list[Problem]:
    """Release bundles present at ``base`` that the work tree edits or deletes."""
    config = load_config(root)
    old = base_tree(root, base)
    current = tree.read_tree(config.output_dir, config.output)
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
