"""What was released, read from git: the ledger a change cannot delete.

``render.lock`` records the digest of every release bundle, but the change that edits a bundle
can edit or delete the lock too. So every bundle is also compared with the history of HEAD:
each file as it was first committed, and the set of files of the commit that cut the release.
A bundle edited, emptied or deleted in the work tree, or in a commit since, is refused, however
the lock reads. Without git (or with the output outside the work tree) only the lock is there.
"""

from __future__ import annotations

from csops.gitrepo import FirstBlob, GitError, Repository
from csops.renderer.config import RepoConfig
from csops.renderer.errors import Problem

RELEASES_DIR = "releases"


def committed_bundles(config: RepoConfig) -> dict[str, dict[str, FirstBlob]]:
    """Every release bundle committed on HEAD's history: name → file in it → first blob
    (``{}`` without git, or with the output outside the work tree)."""
    try:
        git = Repository(config.root)
        output = git.relative(config.output_dir)
    except GitError:
        return {}
    if not output:
        return {}
    bundles: dict[str, dict[str, FirstBlob]] = {}
    for path, first in git.first_blobs(f"{output}/{RELEASES_DIR}").items():
        name, _, file = path.partition("/")
        if file:
            bundles.setdefault(name, {})[file] = first
    return bundles


def committed_problems(
    config: RepoConfig,
    existing: dict[str, bytes],
    bundles: dict[str, dict[str, FirstBlob]] | None = None,
) -> list[Problem]:
    """Release bundles committed on HEAD's history that ``existing`` (the rendered tree on
    disk, by path relative to the output) no longer holds byte for byte. ``bundles``: what
    :func:`committed_bundles` read, when it is read already."""
    if bundles is None:
        bundles = committed_bundles(config)
    on_disk: dict[str, dict[str, bytes]] = {}
    for path, data in existing.items():
        top, _, rest = path.partition("/")
        name, _, file = rest.partition("/")
        if top == RELEASES_DIR and file:
            on_disk.setdefault(name, {})[file] = data
    return [
        problem
        for name, files in sorted(bundles.items())
        for problem in _bundle_problems(config.output, name, files, on_disk.get(name, {}))
    ]


def _bundle_problems(
    out: str, name: str, files: dict[str, FirstBlob], present: dict[str, bytes]
) -> list[Problem]:
    """What differs between one committed bundle and its files on disk (by path in it)."""
    where = f"{out}/{RELEASES_DIR}/{name}"
    cut = next(iter(files.values())).commit  # the oldest: history is read oldest first
    restore = f"git checkout {cut[:12]} -- {where}"
    if not present:
        return [
            Problem(
                where,
                f"release {name} was committed in {cut[:12]} and is deleted",
                hint=f"releases are immutable; restore it: {restore}",
            )
        ]
    found = {
        "changed": sorted(
            f for f, b in files.items() if f in present and not b.matches(present[f])
        ),
        "missing": sorted(f for f, b in files.items() if f not in present and b.commit == cut),
        "added": sorted(f for f in present if f not in files or files[f].commit != cut),
    }
    detail = "; ".join(f"{kind}: {', '.join(paths)}" for kind, paths in found.items() if paths)
    if not detail:
        return []
    return [
        Problem(
            where,
            f"release {name} differs from the bundle committed in {cut[:12]} ({detail})",
            hint=f"releases are immutable, whatever render.lock says: restore it ({restore}) "
            "and change the stack source instead, which cuts a new version",
        )
    ]
