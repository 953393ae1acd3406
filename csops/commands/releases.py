"""``csops import`` and ``csops link-cso``: published releases in, CSO's local layout out."""

from __future__ import annotations

from pathlib import Path

import click

from csops import console, options
from csops.renderer import import_releases, link_cso_layout

repo_argument = click.argument(
    "repo", type=click.Path(file_okay=False, path_type=Path), default=".", required=False
)


@click.command(name="import")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@repo_argument
@options.output()
def import_(path: Path, repo: Path, fmt: str) -> None:
    """Add published releases at PATH to REPO's rendered/releases/.

    \b
    PATH is a release as csctl publishes it (a GitHub release's assets, an OCI
    artifact pulled with oras, a release directory of the Cluster Stack Operator):
    metadata.yaml, P-N-M-m-cluster-class-V.tgz, P-N-M-m-cluster-addon-V.tgz and the
    optional hashes.json, clusteraddon.yaml, cluster-addon-values.yaml and
    node-images.yaml side by side. PATH may also hold several such directories,
    or be CSO's --release-dir (cluster-stacks/<tag>/). Bundles csops wrote import
    too.

    \b
    Incomplete or inconsistent releases are refused, and so is an import that
    would change a release that exists; nothing is written then. Run
    `csops render` afterwards to render what a ClusterStack offers.
    """
    with console.progress("importing releases…"):
        imported = import_releases(path, repo)
    for item in imported:
        console.problems(item.warnings, level="warning")
    rows = [
        {
            "release": item.name,
            "source": item.source,
            "imported": item.written,
            "ignored": item.ignored,
        }
        for item in imported
    ]
    if fmt != "text":
        console.structured(rows, fmt)
        return
    for item in imported:
        state = "imported" if item.written else "unchanged (already imported)"
        console.out.print(f"release {item.name} {state}")
        if item.ignored:
            console.err.print(f"  left out of {item.name}: {', '.join(item.ignored)}")
    if any(item.written for item in imported):
        console.err.print("run `csops render` to render the releases ClusterStacks offer")


@click.command(name="link-cso")
@click.argument("release_dir", type=click.Path(file_okay=False, path_type=Path))
@repo_argument
def link_cso(release_dir: Path, repo: Path) -> None:
    """Lay REPO's release bundles out for the Cluster Stack Operator's --local mode.

    \b
    Creates RELEASE_DIR/cluster-stacks/<release>/ with a symbolic link to each
    published file of rendered/releases/<release>/ (no copies), which is where
    `cso --local --release-dir=RELEASE_DIR` reads releases. CSO writes into these
    directories (it unpacks addon archives there), never into the rendered tree.
    Run it again after a render to add new releases.
    """
    linked = link_cso_layout(release_dir, repo)
    for item in linked:
        state = (
            f"{item.changed} link{'s' if item.changed != 1 else ''}"
            if item.changed
            else "up to date"
        )
        console.out.print(f"{release_dir}/cluster-stacks/{item.name}: {state}")
