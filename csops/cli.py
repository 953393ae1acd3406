"""The ``csops`` command: kubectl/git conventions, exit codes 0 ok, 1 failure, 2 usage.

Commands are imported only when they run: ``csops --version`` and ``csops --help`` load click
and this module, not the Kubernetes client, Helm or CEL behind the commands.

Commands parse their options and call the library; they never exit by themselves. Every
:class:`~csops.errors.CsopsError` that reaches the group is reported here, once: its problems
one per line (or its message) on stderr, or in the log when the command set one up, and the
process exits with the error's ``exit_code``.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

import click

from csops import __version__
from csops.errors import CsopsError

#: name → (module:attribute of the click command, one-line summary for ``csops --help``).
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": (
        "csops.commands.render:validate",
        "Check a stacks repository: schemas, names, versions, charts.",
    ),
    "render": (
        "csops.commands.render:render",
        "Render stack sources and ClusterStacks into the rendered tree.",
    ),
    "diff": (
        "csops.commands.diff:diff",
        "Show which objects and releases a change touches.",
    ),
    "ls": ("csops.commands.render:ls", "List stacks, releases and ClusterClass names."),
    "hash": ("csops.commands.render:hash_", "Print csctl's hash and hash-mode version of a stack."),
    "import": (
        "csops.commands.releases:import_",
        "Add published releases (csctl/CSO layout) to the rendered tree.",
    ),
    "link-cso": (
        "csops.commands.releases:link_cso",
        "Lay the release bundles out for CSO's --local mode (links, no copies).",
    ),
    "sync": (
        "csops.commands.sync:sync",
        "Reconcile a management cluster toward the rendered manifests.",
    ),
    "status": (
        "csops.commands.status:status",
        "Show where syncing stands, per ClusterStack (--watch to follow).",
    ),
    "addons": (
        "csops.commands.addons:addons",
        "Bring each workload cluster's addons up (the addon controller).",
    ),
    "completion": (
        "csops.commands.completion:completion",
        "Print the shell completion script (bash, zsh or fish).",
    ),
    "dev-cluster": (
        "csops.commands.dev_cluster:dev_cluster",
        "Run a local control plane with the Cluster API CRDs.",
    ),
}


def report(error: CsopsError) -> None:
    """Tell the user what went wrong: on stderr, or in the command's log when it has one."""
    from csops import console

    log = logging.getLogger("csops.syncer")
    if log.handlers and not error.problems:
        if str(error):
            log.error("failed", extra={"error": str(error)})
        return
    if error.problems:
        console.problems(error.problems)
        count = len(error.problems)
        console.err.print(f"{count} problem{'s' if count != 1 else ''} found", style="red")
    elif str(error):
        console.err.print(f"error: {error}", style="red", markup=False)


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use, listed from :data:`COMMANDS`, and
    that turns a :class:`CsopsError` into output and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; report a :class:`CsopsError` and exit with its code."""
        try:
            return super().invoke(ctx)
        except CsopsError as error:
            report(error)
            ctx.exit(error.exit_code)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command name, sorted (as click lists them)."""
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import and return the command, or ``None`` for an unknown name."""
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        target, summary = entry
        module_name, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        command.short_help = command.short_help or summary
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help`` from the summaries, without importing any command."""
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="csops")
def cli() -> None:
    """Render Cluster Stacks from git and sync them to a management cluster."""


def main() -> None:
    """Console-script entry point (``_CSOPS_COMPLETE`` in the environment: shell completion)."""
    cli(prog_name="csops", complete_var="_CSOPS_COMPLETE")
