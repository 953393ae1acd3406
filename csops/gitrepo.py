"""The one adapter to git (GitPython, and the git binary for plumbing): nothing else imports git.

- :func:`source_commit` tells a render where the stacks repository stands (read before the
  render starts; the render takes it as data);
- :class:`Repository` reads trees at refs and writes commits and pushes for ``render --commit``,
  ``diff`` and the review-time immutability check;
- :class:`Mirror` keeps a bare mirror of one branch of a remote for the syncer, and exports a
  commit's directories into plain files.

Every failure is a :class:`GitError` naming the repository and what to do.

Why one long module: it is the only module allowed to import git (an import-linter contract),
so every git operation csops needs lives here.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import git
from gitdb.base import IStream

from csops import confine, gitcredentials
from csops.errors import Problem, ProblemError
from csops.gitcredentials import GitCredentials


class GitError(ProblemError):
    """A git operation failed, or the repository is not in a state csops can work with."""


@dataclass(frozen=True)
class FirstBlob:
    """A file as it was first committed: its blob id and the commit that added it."""

    blob: str
    commit: str

    def matches(self, data: bytes) -> bool:
        """Whether ``data`` is that blob's content (SHA-1 or SHA-256 object ids)."""
        algorithm = hashlib.sha256 if len(self.blob) == 64 else hashlib.sha1
        header = f"blob {len(data)}\0".encode()
        return algorithm(header + data).hexdigest() == self.blob


@dataclass(frozen=True)
class SourceCommit:
    """The commit a render is made from, and whether the sources had local changes."""

    commit: str
    dirty: bool


def source_commit(root: Path, output: Path) -> SourceCommit | None:
    """HEAD of the repository holding ``root`` and whether anything but ``output`` changed;
    ``None`` outside git or before a first commit."""
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
    return SourceCommit(commit, bool(status.strip()))


_ZERO = "0" * 40
_LINK_MODE = 0o120000
_FILE_MODE = "100644"
_FALLBACK_IDENTITY = {
    "GIT_AUTHOR_NAME": "csops",
    "GIT_AUTHOR_EMAIL": "csops@localhost",
    "GIT_COMMITTER_NAME": "csops",
    "GIT_COMMITTER_EMAIL": "csops@localhost",
}


@dataclass(frozen=True)
class PushResult:
    """How a push went: accepted, rejected because the remote moved, or failed otherwise."""

    ok: bool
    rejected: bool
    message: str


class Repository:
    """A work tree opened for publishing: read trees at refs, build commits, push.

    Commits are made with plumbing (a temporary index, ``write-tree``, ``commit-tree``,
    ``update-ref``), so the user's index and anything staged outside the rendered tree are
    never swept into a render commit, and a branch other than the checked-out one can be
    written without touching the work tree.
    """

    def __init__(self, path: Path) -> None:
        try:
            self.repo = git.Repo(path, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
            raise GitError(
                Problem(str(path), "is not inside a git repository", hint="run `git init` first")
            ) from exc
        if self.repo.working_tree_dir is None:
            raise GitError(Problem(str(path), "is a bare repository", hint="use a work tree"))
        self.top = Path(self.repo.working_tree_dir).resolve()

    # -- where things are ---------------------------------------------------------------

    def relative(self, path: Path) -> str:
        """``path`` relative to the top of the work tree, ``/``-separated ("" for the top)."""
        try:
            rel = path.resolve().relative_to(self.top).as_posix()
        except ValueError as exc:
            raise GitError(Problem(str(path), f"is outside the git work tree {self.top}")) from exc
        return "" if rel == "." else rel

    def head(self) -> str | None:
        """The commit HEAD points at; ``None`` before the first commit."""
        try:
            return self.repo.head.commit.hexsha
        except ValueError:
            return None

    def require_head(self) -> str:
        """The commit HEAD points at; a :class:`GitError` before the first commit."""
        head = self.head()
        if head is None:
            raise GitError(
                Problem(str(self.top), "has no commits yet", hint="commit the sources first")
            )
        return head

    def branch(self) -> str | None:
        """The checked-out branch; ``None`` on a detached HEAD."""
        if self.repo.head.is_detached:
            return None
        return self.repo.head.ref.name

    def resolve(self, ref: str) -> str | None:
        """The commit a ref names, or ``None`` when it does not exist."""
        try:
            sha: str = self.repo.git.rev_parse("--verify", "--quiet", f"{ref}^{{commit}}")
        except git.GitCommandError:
            return None
        return sha.strip() or None

    def branch_head(self, branch: str) -> str | None:
        """The commit of local branch ``branch``, or ``None``."""
        return self.resolve(f"refs/heads/{branch}")

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """Whether ``ancestor`` is reachable from ``descendant`` (or equal to it)."""
        try:
            self.repo.git.merge_base("--is-ancestor", ancestor, descendant)
        except git.GitCommandError:
            return False
        return True

    def merge_base(self, a: str, b: str) -> str | None:
        """The best common ancestor of two commits, or ``None`` (unrelated histories)."""
        try:
            out: str = self.repo.git.merge_base(a, b)
        except git.GitCommandError:
            return None
        return out.strip() or None

    def parents(self, commit: str) -> list[str]:
        """The parents of a commit."""
        return [p.hexsha for p in self.repo.commit(commit).parents]

    def changed_paths(self, old: str, new: str, paths: list[str]) -> list[str]:
        """Files that differ between two commits, limited to ``paths`` (all when empty)."""
        out = self.repo.git.diff("--name-only", old, new, "--", *paths)
        return [line for line in out.splitlines() if line]

    def status(self, include: str, exclude: list[str]) -> list[str]:
        """``git status --porcelain`` lines below ``include``, leaving out ``exclude``."""
        specs = [f":(top){include}"]
        specs += [f":(top,exclude){p}" for p in exclude if p]
        out = self.repo.git.status("--porcelain", "--untracked-files=all", "--", *specs)
        return [line for line in out.splitlines() if line.strip()]

    def message(self, commit: str) -> str:
        """The full message of a commit."""
        return str(self.repo.commit(commit).message)

    # -- reading trees -------------------------------------------------------------------

    def tree_id(self, commit: str, path: str = "") -> str | None:
        """The tree object at ``commit:path``; ``None`` when the path does not exist there."""
        tree = self.repo.commit(commit).tree
        if not path:
            return tree.hexsha
        try:
            obj = tree / path
        except KeyError:
            return None
        return obj.hexsha if obj.type == "tree" else None

    def first_blobs(self, path: str) -> dict[str, FirstBlob]:
        """Every file ever committed below ``path`` on HEAD's history, as it was first
        committed: path (relative to ``path``) to its blob id and the commit that added it.

        ``{}`` before the first commit. Read from the history, not from any file of the work
        tree, so a change cannot rewrite it by editing or deleting a file.
        """
        if self.head() is None:
            return {}
        out = self._git(
            "-c",
            "core.quotePath=false",
            "log",
            "--reverse",
            "--raw",
            "--no-abbrev",
            "--no-renames",
            "--format=commit %H",
            "HEAD",
            "--",
            path,
        )
        found: dict[str, FirstBlob] = {}
        commit = ""
        prefix = f"{path.strip('/')}/" if path.strip("/") else ""
        for line in out.splitlines():
            if line.startswith("commit "):
                commit = line.removeprefix("commit ")
                continue
            meta, tab, name = line.partition("\t")
            fields = meta.split()
            if not (line.startswith(":") and tab and len(fields) == 5):
                continue
            if fields[4] == "A" and name.startswith(prefix):
                found.setdefault(name.removeprefix(prefix), FirstBlob(fields[3], commit))
        return found

    def read_tree(self, ref: str, path: str = "") -> dict[str, bytes]:
        """Every file below ``path`` at ``ref`` by relative path; ``{}`` when absent."""
        commit = self.resolve(ref)
        if commit is None:
            raise GitError(Problem(ref, "is not a commit in this repository"))
        tree = self.repo.commit(commit).tree
        if path:
            try:
                tree = tree / path
            except KeyError:
                return {}
            if tree.type != "tree":
                return {}
        files: dict[str, bytes] = {}
        for item in tree.traverse():
            if isinstance(item, git.Blob):
                full = str(item.path)
                files[full[len(path) + 1 :] if path else full] = item.data_stream.read()
        return files

    # -- writing commits ------------------------------------------------------------------

    def _env(self, index: Path | None = None) -> dict[str, str]:
        env = dict(os.environ)
        if index is not None:
            env["GIT_INDEX_FILE"] = str(index)
        reader = self.repo.config_reader()
        has_identity = reader.has_option("user", "name") and reader.has_option("user", "email")
        for key, value in _FALLBACK_IDENTITY.items():
            if not has_identity and key not in env:
                env[key] = value
        return env

    def _git(
        self, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
    ) -> str:
        proc = subprocess.run(
            ["git", *args],
            cwd=self.top,
            input=stdin,
            capture_output=True,
            env=env if env is not None else self._env(),
            check=False,
        )
        if proc.returncode != 0:
            raise GitError(
                Problem(
                    str(self.top),
                    f"git {args[0]} failed: {proc.stderr.decode(errors='replace').strip()}",
                )
            )
        return proc.stdout.decode()

    def build_tree(self, base: str | None, prefix: str, files: dict[str, bytes]) -> str:
        """A tree: ``base``'s tree with everything below ``prefix`` replaced by ``files``.

        Built in a temporary index; the real index and the work tree are not touched.
        """
        with tempfile.TemporaryDirectory(prefix="csops-index-") as tmp:
            env = self._env(Path(tmp) / "index")
            if base is not None and prefix:
                self._git("read-tree", base, env=env)
                self._git("rm", "--cached", "-r", "-q", "--ignore-unmatch", "--", prefix, env=env)
            else:
                self._git("read-tree", "--empty", env=env)
            lines = []
            for rel in sorted(files):
                data = files[rel]
                sha = self.repo.odb.store(IStream("blob", len(data), io.BytesIO(data))).hexsha
                sha = sha.decode() if isinstance(sha, bytes) else sha
                path = f"{prefix}/{rel}" if prefix else rel
                lines.append(f"{_FILE_MODE} {sha}\t{path}\n")
            self._git("update-index", "--index-info", stdin="".join(lines).encode(), env=env)
            return self._git("write-tree", env=env).strip()

    def graft_tree(self, base: str, prefix: str, source: str) -> str:
        """``base``'s tree with ``prefix`` replaced by ``source``'s ``prefix`` subtree."""
        files = self.read_tree(source, prefix)
        return self.build_tree(base, prefix, files)

    def commit_tree(self, tree: str, parents: list[str], message: str) -> str:
        """A new commit object (no ref moves)."""
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        return self._git(*args, stdin=message.encode()).strip()

    def update_ref(self, ref: str, new: str, old: str | None, reason: str) -> None:
        """Move ``ref`` to ``new`` only if it still points at ``old`` (``None``: must not exist)."""
        self._git("update-ref", "-m", reason, ref, new, old or _ZERO)

    def sync_index(self, path: str) -> None:
        """Make the index entries below ``path`` match HEAD (after HEAD moved under them)."""
        self._git("reset", "-q", "HEAD", "--", path or ".")

    def reset_keep(self, commit: str) -> None:
        """Move HEAD (and its branch) to ``commit``, keeping local changes (``reset --keep``)."""
        self._git("reset", "-q", "--keep", commit)

    # -- remotes -------------------------------------------------------------------------

    def remote_head(self, remote: str, branch: str) -> str | None:
        """Where ``branch`` is on ``remote`` right now (``ls-remote``); ``None`` if absent."""
        out = self._git("ls-remote", "--heads", remote, f"refs/heads/{branch}")
        for line in out.splitlines():
            sha, _, ref = line.partition("\t")
            if ref == f"refs/heads/{branch}":
                return sha
        return None

    def fetch(self, remote: str, branch: str) -> str | None:
        """Fetch ``branch`` from ``remote``; its commit, or ``None`` if the remote lacks it."""
        if self.remote_head(remote, branch) is None:
            return None
        self._git("fetch", "--quiet", "--no-tags", remote, f"refs/heads/{branch}")
        return self.resolve("FETCH_HEAD")

    def push(self, remote: str, commit: str, branch: str) -> PushResult:
        """Push ``commit`` to ``branch`` on ``remote`` as a fast-forward; never forced."""
        proc = subprocess.run(
            ["git", "push", "--porcelain", remote, f"{commit}:refs/heads/{branch}"],
            cwd=self.top,
            capture_output=True,
            env=self._env(),
            check=False,
        )
        output = (proc.stdout + proc.stderr).decode(errors="replace")
        if proc.returncode == 0:
            return PushResult(True, False, output.strip())
        rejected = "[rejected]" in output and (
            "fetch first" in output or "non-fast-forward" in output
        )
        return PushResult(False, rejected, output.strip())


class Mirror:
    """A bare mirror of one branch of a remote (any URL git understands, ``file://`` too).

    ``credentials`` is asked before every fetch (a rotated token is picked up); what it gives
    reaches git only through the environment (:mod:`csops.gitcredentials`), and every message
    is redacted.
    """

    def __init__(
        self,
        url: str,
        branch: str,
        directory: Path,
        credentials: Callable[[], GitCredentials] | None = None,
    ) -> None:
        self.url = url
        self.branch = branch
        self.directory = directory
        self.credentials = credentials
        self._ref = f"refs/remotes/origin/{branch}"

    @property
    def display_url(self) -> str:
        """The URL without any ``user:password@``."""
        return gitcredentials.redact(self.url)

    def _open(self) -> git.Repo:
        if (self.directory / "HEAD").exists():
            return git.Repo(self.directory)
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        repo = git.Repo.init(self.directory, bare=True)
        repo.create_remote("origin", self.url)
        return repo

    def fetch(self) -> str:
        """Fetch the branch (forced: a rewritten history simply moves it); its commit."""
        credentials = self.credentials() if self.credentials else GitCredentials()
        try:
            repo = self._open()
            with tempfile.TemporaryDirectory(prefix="csops-git-") as private:
                env = gitcredentials.environment(
                    self.url, credentials, Path(private), os.environ.get("GIT_CONFIG_COUNT")
                )
                with repo.git.custom_environment(**env):
                    repo.git.fetch(
                        "--force", "--prune", "origin", f"+refs/heads/{self.branch}:{self._ref}"
                    )
            return str(repo.commit(self._ref).hexsha)
        except (git.GitCommandError, git.BadName, ValueError, OSError) as exc:
            reason = gitcredentials.redact(_short(exc), credentials)
            raise GitError(
                Problem(self.display_url, f"cannot fetch branch {self.branch!r}: {reason}")
            ) from None

    def last_fetched(self) -> str | None:
        """The commit the last successful fetch brought, or ``None``."""
        try:
            return str(git.Repo(self.directory).commit(self._ref).hexsha)
        except (git.GitError, git.BadName, ValueError, OSError):
            return None

    def export(self, commit: str, path: str, into: Path) -> bool:
        """Write the files below ``path`` at ``commit`` into ``into``; False when it is absent.

        A ``path`` naming a file, not a directory, is a :class:`GitError`.
        """
        tree = git.Repo(self.directory).commit(commit).tree
        if path.strip("/"):
            try:
                tree = tree / path.strip("/")
            except KeyError:
                return False
        if not isinstance(tree, git.Tree):
            raise GitError(
                Problem(
                    f"{self.display_url}@{commit[:12]}", f"{path} is a file, expected a directory"
                )
            )
        into.mkdir(parents=True, exist_ok=True)
        where = f"{self.display_url}@{commit[:12]}"
        for item in tree.traverse():
            if not isinstance(item, git.Blob):
                continue
            rel = str(item.path)[len(str(tree.path)) + 1 :] if tree.path else str(item.path)
            if item.mode == _LINK_MODE:
                raise GitError(
                    Problem(
                        f"{where}:{item.path}",
                        "is a symbolic link; a synced tree holds regular files only",
                        hint="commit the file itself",
                    )
                )
            try:
                dest = confine.under(into, rel, f"{where}:{item.path}")
            except confine.OutsideError as exc:
                raise GitError(exc.problems) from exc
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(item.data_stream.read())
        return True


def _short(exc: Exception) -> str:
    text = str(getattr(exc, "stderr", "") or exc).strip()
    return " ".join(text.split())[:300]
