"""The one adapter to git for the renderer: where a stacks repository stands (GitPython)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import git


@dataclass(frozen=True)
class Revision:
    """The commit a render was made from, and whether the sources had local changes."""

    commit: str
    dirty: bool


def revision(root: Path, output: Path) -> Revision | None:
    """HEAD of the repository holding ``root``; ``None`` outside git or before a first commit."""
    try:
        repo = git.Repo(root, search_parent_directories=True)
        commit = repo.head.commit.hexsha
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError):
        return None
    top = Path(repo.working_tree_dir or root).resolve()
    try:
        out = output.resolve().relative_to(top).as_posix()
    except ValueError:
        out = None
    status = repo.git.status("--porcelain", "--", ".", *([f":(exclude){out}"] if out else []))
    return Revision(commit, bool(status.strip()))
