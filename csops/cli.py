"""The ``csops`` command: kubectl/git conventions, exit codes 0 ok, 1 failure, 2 usage."""

from __future__ import annotations

import click

from csops import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="csops")
def cli() -> None:
    """Render Cluster Stacks from git and sync them to a management cluster."""


def _register() -> None:
    from csops.commands import dev_cluster, diff, render

    for command in (render.validate, render.render, render.hash_, render.ls, diff.diff):
        cli.add_command(command)
    cli.add_command(dev_cluster.dev_cluster)
    from csops.commands import sync

    cli.add_command(sync.sync)
    cli.add_command(sync.status)
    from csops.commands import addons

    cli.add_command(addons.addons)


def main() -> None:
    """Console-script entry point."""
    _register()
    cli()
