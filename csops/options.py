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

stage_timeout = click.option(
    "--stage-timeout",
    type=float,
    default=600.0,
    show_default=True,
    help="Longest an addon stage waits for its pre-/post-condition, seconds (0: no limit).",
)

upgrade_timeout = click.option(
    "--upgrade-timeout",
    type=float,
    default=900.0,
    show_default=True,
    help="Longest a BeforeClusterUpgrade hook holds an upgrade, seconds.",
)

hook_cert = click.option(
    "--hook-cert",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Serving certificate of the CAPI runtime-hook server (PEM).",
)

hook_key = click.option(
    "--hook-key",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Private key of the CAPI runtime-hook server (PEM).",
)
