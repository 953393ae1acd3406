"""The one adapter to git (GitPython): follow a branch of a URL, or read a local path.

A git source keeps a bare mirror in a cache directory and materialises each fetched commit's
``path`` into an immutable snapshot directory (written to a temporary name, then renamed), so only
fully fetched revisions are ever read. A forced push simply moves the branch. When the remote is
unreachable the last good revision is returned with the error attached.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import git

from csops.syncer.errors import SourceError

DEFAULT_PATH = "rendered/manifests"
KEEP_SNAPSHOTS = 3


@dataclass(frozen=True)
class Revision:
    """A fetched revision: its name (``branch@sha1:<sha>``), manifests dir and render root."""

    name: str
    manifests: Path
    stale_error: str | None = None  # set when the remote failed and this is the last good one

    @property
    def rendered_root(self) -> Path:
        """The rendered tree (parent of ``manifests/``), where ``releases/`` lives."""
        return self.manifests.parent


def is_remote(repo: str) -> bool:
    return "://" in repo or repo.startswith("git@") or not Path(repo).exists()


class LocalSource:
    """A directory on disk, read as is; the revision is a digest of its files."""

    def __init__(self, root: Path, path: str) -> None:
        self.root = root
        self.path = path
        self.watch_dir = root / path

    def fetch(self) -> Revision:
        manifests = self.root / self.path
        if not manifests.is_dir():
            raise SourceError(f"{manifests}: no such directory (check --repo and --path)")
        digest = hashlib.sha256()
        for file in sorted(manifests.rglob("*")):
            if file.is_file():
                digest.update(str(file.relative_to(manifests)).encode() + b"\0")
                digest.update(file.read_bytes())
        return Revision(f"local@sha256:{digest.hexdigest()[:12]}", manifests)


class GitSource:
    """A branch of a git remote (any URL git understands, including ``file://``)."""

    def __init__(self, url: str, branch: str, path: str, cache_dir: Path) -> None:
        self.url = url
        self.branch = branch
        self.path = path
        key = hashlib.sha256(f"{url}\0{branch}".encode()).hexdigest()[:16]
        self.cache = cache_dir / key
        self.mirror = self.cache / "mirror.git"
        self._last: Revision | None = None

    def _repo(self) -> git.Repo:
        if (self.mirror / "HEAD").exists():
            return git.Repo(self.mirror)
        self.cache.mkdir(parents=True, exist_ok=True)
        repo = git.Repo.init(self.mirror, bare=True)
        repo.create_remote("origin", self.url)
        return repo

    def fetch(self) -> Revision:
        try:
            repo = self._repo()
            ref = f"refs/remotes/origin/{self.branch}"
            repo.git.fetch("--force", "--prune", "origin", f"+refs/heads/{self.branch}:{ref}")
            commit = repo.commit(ref)
        except (git.GitCommandError, git.BadName, ValueError, OSError) as exc:
            message = f"cannot fetch branch {self.branch!r} of {self.url}: {_short(exc)}"
            if self._last is None:
                last = self._last_snapshot()
                if last is None:
                    raise SourceError(message) from exc
                self._last = last
            return Revision(self._last.name, self._last.manifests, stale_error=message)
        name = f"{self.branch}@sha1:{commit.hexsha}"
        self._last = Revision(name, self._snapshot(commit))
        return self._last

    def _snapshot(self, commit: git.Commit) -> Path:
        snapshots = self.cache / "snapshots"
        target = snapshots / commit.hexsha
        manifests = target / "rendered" / "manifests"
        if target.is_dir():
            return manifests
        snapshots.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=snapshots))
        try:
            root = commit.tree
            try:
                sub = root / self.path
            except KeyError as exc:
                raise SourceError(
                    f"{self.url}@{commit.hexsha[:12]}: path {self.path!r} does not exist"
                ) from exc
            _extract(sub, staging / "rendered" / "manifests")
            parent = self.path.rstrip("/").rpartition("/")[0]
            releases = f"{parent}/releases" if parent else "releases"
            with contextlib.suppress(KeyError):
                _extract(root / releases, staging / "rendered" / "releases")
            (staging / "REVISION").write_text(commit.hexsha)
            staging.replace(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self._trim(snapshots, keep=target)
        return manifests

    def _trim(self, snapshots: Path, keep: Path) -> None:
        entries = sorted(
            (p for p in snapshots.iterdir() if p.is_dir() and not p.name.startswith(".")),
            key=lambda p: p.stat().st_mtime,
        )
        for old in entries[:-KEEP_SNAPSHOTS]:
            if old != keep:
                shutil.rmtree(old, ignore_errors=True)

    def _last_snapshot(self) -> Revision | None:
        try:
            repo = git.Repo(self.mirror)
            commit = repo.commit(f"refs/remotes/origin/{self.branch}")
        except (git.GitError, git.BadName, ValueError, OSError):
            return None
        target = self.cache / "snapshots" / commit.hexsha / "rendered" / "manifests"
        if not target.is_dir():
            return None
        return Revision(f"{self.branch}@sha1:{commit.hexsha}", target)


def _extract(tree: git.Tree | git.Blob, into: Path) -> None:
    if isinstance(tree, git.Blob):
        raise SourceError(f"{tree.path} is a file, expected a directory")
    into.mkdir(parents=True, exist_ok=True)
    for item in tree.traverse():
        if not isinstance(item, git.Blob):
            continue
        rel = Path(item.path).relative_to(tree.path) if tree.path else Path(item.path)
        dest = into / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(item.data_stream.read())


def _short(exc: Exception) -> str:
    text = str(getattr(exc, "stderr", "") or exc).strip()
    return " ".join(text.split())[:300]


def open_source(
    repo: str, branch: str | None, path: str, cache_dir: Path
) -> LocalSource | GitSource:
    """A git source for a URL (or a local repo when ``branch`` is given), else a directory."""
    local = Path(repo)
    if not is_remote(repo) and branch is None:
        if not local.is_dir():
            raise SourceError(f"{repo}: not a directory")
        return LocalSource(local.resolve(), path)
    url = repo if is_remote(repo) else local.resolve().as_uri()
    return GitSource(url, branch or "main", path, cache_dir)
