"""CSO's ``--local`` layout over csops's release bundles, without copies.

The Cluster Stack Operator in ``--local`` mode reads a release from
``<release-dir>/cluster-stacks/<tag>/``: ``metadata.yaml`` and the ``.tgz`` archives, found by
name. It also writes there: it unpacks the addon archive into
``<tag>/<P-N-M-m-cluster-addon-V>/`` and lets ``helm template --dependency-update`` fill it.
So ``<release-dir>/cluster-stacks`` must not be a link to ``rendered/releases`` (CSO's files
would land in the immutable bundles). Instead each ``<tag>/`` is a real directory of symbolic
links, one per published file of the bundle: CSO reads csops's files and writes beside them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from csops.renderer.config import load_config
from csops.renderer.errors import Problem, TreeError
from csops.renderer.published import CLUSTER_STACKS_DIR, RELEASES_DIR

UNPACKED = ("cluster-class", "cluster-addon")


@dataclass(frozen=True)
class Linked:
    """One release in the layout, and how many links were made or fixed."""

    name: str
    changed: int


def link(release_dir: Path, repo: Path) -> list[Linked]:
    """Point ``release_dir/cluster-stacks/<tag>/*`` at every bundle of ``repo``'s rendered tree.

    Links are relative (so the two directories may move together); existing correct links are
    kept, so running it again after a render only adds the new releases.
    """
    config = load_config(repo)
    bundles = config.output_dir / RELEASES_DIR
    if not bundles.is_dir():
        raise TreeError(
            Problem(f"{config.output}/{RELEASES_DIR}", "does not exist", hint="run csops render")
        )
    layout = release_dir / CLUSTER_STACKS_DIR
    if layout.is_symlink():
        raise TreeError(
            Problem(
                str(layout),
                "is a symbolic link; CSO writes into release directories, so each release "
                "must be a real directory of links",
                hint="remove the link and run this command again",
            )
        )
    done = []
    for bundle in sorted(p for p in bundles.iterdir() if p.is_dir()):
        target = layout / bundle.name
        target.mkdir(parents=True, exist_ok=True)
        changed = 0
        for file in sorted(p for p in bundle.iterdir() if p.is_file()):
            link_path = target / file.name
            pointer = os.path.relpath(file.resolve(), target.resolve())
            if link_path.is_symlink() and str(link_path.readlink()) == pointer:
                continue
            if link_path.exists() or link_path.is_symlink():
                if not link_path.is_symlink():
                    raise TreeError(
                        Problem(
                            str(link_path),
                            "is a regular file, not a link into the rendered tree",
                            hint="remove it (the layout only holds links)",
                        )
                    )
                link_path.unlink()
            link_path.symlink_to(pointer)
            changed += 1
        done.append(Linked(bundle.name, changed))
    return done
