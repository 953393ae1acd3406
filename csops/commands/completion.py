"""``csops completion bash|zsh|fish``: the shell's completion script for csops."""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VARIABLE = "_CSOPS_COMPLETE"


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the completion script of SHELL: commands, options and their choices.

    \b
    bash:  source <(csops completion bash)       (or into ~/.bashrc)
    zsh:   source <(csops completion zsh)        (after compinit)
    fish:  csops completion fish > ~/.config/fish/completions/csops.fish
    """
    root = ctx.find_root()
    cls = get_completion_class(shell)
    if cls is None:  # every shell of SHELLS has a class; a future click could drop one
        raise click.UsageError(f"click has no completion for {shell}")
    script = cls(root.command, {}, root.info_name or "csops", COMPLETE_VARIABLE)
    click.echo(script.source())
