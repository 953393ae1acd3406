"""Where the syncer's desired state comes from: a branch of a git URL, or a local path.

A git source keeps a bare mirror (:class:`csops.gitrepo.Mirror`, the one adapter to git) in a
cache directory and materialises each fetched commit's ``path`` into an immutable snapshot
directory (written to a temporary name, then renamed), so only fully fetched revisions are ever
read. A forced push simply moves the branch. When the remote is unreachable the last good
revision is returned with the error attached. A private remote's credentials come from a
callable asked before each fetch (:mod:`csops.syncer.gitauth`); no message shows them.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from csops import confine, yamldoc
from csops.gitcredentials import GitCredentials
from csops.gitrepo import GitError, Mirror
from csops.syncer.errors import FetchError, RevisionError

DEFAULT_PATH = "rendered/manifests"
KEEP_SNAPSHOTS = 3


@dataclass(frozen=True)
class Revision:
    """A fetched revision: its name (``branch@sha1:<sha>``), manifests dir and render root."""

    name: str
    manifests: Path
    stale_error: str | None = None  # set when the remote failed and this is the last good one
    root: Path | None = None
    """What nothing may be read outside of (default: the rendered tree)."""
    contents: Mapping[str, bytes] | None = field(default=None, compare=False, repr=False)
    """The files below ``manifests`` by relative path, when the source read them already."""

    @property
    def boundary(self) -> Path:
        """The tree every file of this revision must really be in."""
        return self.root or self.rendered_root

    @property
    def rendered_root(self) -> Path:
        """The rendered tree (parent of ``manifests/``), where ``releases/`` lives."""
        return self.manifests.parent

    @property
    def releases(self) -> Path:
        """The release bundles of this revision (``releases/`` beside ``manifests/``)."""
        return self.rendered_root / "releases"

    def kubernetes_versions(self, releases: Iterable[str]) -> dict[str, str]:
        """Each release's Kubernetes version from its bundle's ``metadata.yaml`` ("" unknown)."""
        found = {}
        for name in releases:
            try:
                path = confine.real(self.boundary, self.releases / name / "metadata.yaml")
                data = yamldoc.load(path.read_text(encoding="utf-8"))
                versions = data.get("versions") if isinstance(data, dict) else None
                kubernetes = versions.get("kubernetes") if isinstance(versions, dict) else None
                found[name] = str(kubernetes or "")
            except (OSError, UnicodeDecodeError, yaml.YAMLError, confine.OutsideError):
                found[name] = ""
        return found


def is_remote(repo: str) -> bool:
    return "://" in repo or repo.startswith("git@") or not Path(repo).exists()


class LocalSource:
    """A directory on disk, read as is; the revision is a digest of its files.

    Nothing outside ``root`` is read: ``path`` and every link below it must stay inside it.
    """

    def __init__(self, root: Path, path: str) -> None:
        self.root = root
        self.path = path
        self.watch_dir = root / path

    def fetch(self) -> Revision:
        manifests = self.root / self.path
        try:
            confine.real(self.root, manifests, self.path)
            if not manifests.is_dir():
                raise FetchError(f"{manifests}: no such directory (check --repo and --path)")
            digest = hashlib.sha256()
            contents: dict[str, bytes] = {}
            for label, file in confine.labelled_files(self.root, manifests):
                data = file.read_bytes()
                digest.update(label.encode() + b"\0")
                digest.update(data)
                contents[label] = data
            releases = manifests.parent / "releases"
            if releases.is_dir():
                for _ in confine.files(self.root, releases):  # Helm must not follow links out
                    pass
        except confine.OutsideError as exc:
            raise RevisionError(f"{exc} (nothing outside {self.root} is read)") from exc
        except OSError as exc:
            raise FetchError(f"{manifests}: cannot read: {exc}") from exc
        name = f"local@sha256:{digest.hexdigest()[:12]}"
        return Revision(name, manifests, root=self.root, contents=contents)


class GitSource:
    """A branch of a git remote (any URL git understands, including ``file://``)."""

    def __init__(
        self,
        url: str,
        branch: str,
        path: str,
        cache_dir: Path,
        credentials: Callable[[], GitCredentials] | None = None,
    ) -> None:
        self.url = url
        self.branch = branch
        self.path = path
        key = hashlib.sha256(f"{url}\0{branch}".encode()).hexdigest()[:16]
        self.cache = cache_dir / key
        self.mirror = Mirror(url, branch, self.cache / "mirror.git", credentials)
        self._last: Revision | None = None

    def fetch(self) -> Revision:
        try:
            commit = self.mirror.fetch()
        except GitError as exc:
            message = str(exc.problems[0])  # "<url>: cannot fetch branch 'main': <why>"
            if self._last is None:
                last = self._last_snapshot()
                if last is None:
                    raise FetchError(message) from exc
                self._last = last
            return Revision(self._last.name, self._last.manifests, stale_error=message)
        name = f"{self.branch}@sha1:{commit}"
        self._last = Revision(name, self._snapshot(commit))
        return self._last

    def _snapshot(self, commit: str) -> Path:
        snapshots = self.cache / "snapshots"
        target = snapshots / commit
        manifests = target / "rendered" / "manifests"
        if target.is_dir():
            return manifests
        snapshots.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=snapshots))
        try:
            parent = self.path.rstrip("/").rpartition("/")[0]
            releases = f"{parent}/releases" if parent else "releases"
            try:
                found = self.mirror.export(commit, self.path, staging / "rendered" / "manifests")
                if found:
                    self.mirror.export(commit, releases, staging / "rendered" / "releases")
            except GitError as exc:
                raise FetchError(str(exc)) from exc
            if not found:
                raise FetchError(
                    f"{self.mirror.display_url}@{commit[:12]}: path {self.path!r} does not exist"
                )
            (staging / "REVISION").write_text(commit)
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
        commit = self.mirror.last_fetched()
        if commit is None:
            return None
        target = self.cache / "snapshots" / commit / "rendered" / "manifests"
        if not target.is_dir():
            return None
        return Revision(f"{self.branch}@sha1:{commit}", target)


Source = LocalSource | GitSource


def open_source(
    repo: str,
    branch: str | None,
    path: str,
    cache_dir: Path,
    credentials: Callable[[], GitCredentials] | None = None,
) -> Source:
    """A git source for a URL (or a local repo when ``branch`` is given), else a directory."""
    local = Path(repo)
    if not is_remote(repo) and branch is None:
        if not local.is_dir():
            raise FetchError(f"{repo}: not a directory")
        return LocalSource(local.resolve(), path)
    url = repo if is_remote(repo) else local.resolve().as_uri()
    return GitSource(url, branch or "main", path, cache_dir, credentials)
