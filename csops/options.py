"""Click options shared by several commands, so each flag means the same everywhere."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from csops.console import OUTPUT_FORMATS

F = TypeVar("F", bound=Callable[..., Any])


def kubeconfig(
    help_text: str = "Kubeconfig (default: $KUBECONFIG, in-cluster, then ~/.kube/config).",
) -> Callable[[F], F]:
    """``--kubeconfig FILE``, also read from ``$KUBECONFIG``."""
    return click.option(
        "--kubeconfig",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        envvar="KUBECONFIG",
        help=help_text,
    )


def output(dest: str = "fmt") -> Callable[[F], F]:
    """kubectl's ``-o text|yaml|json``."""
    return click.option(
        "-o",
        "--output",
        dest,
        type=click.Choice(OUTPUT_FORMATS),
        default="text",
        show_default=True,
        help="Output format.",
    )


log_format = click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Log lines as text or as one JSON object per line.",
)
