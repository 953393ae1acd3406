"""Click options shared by several commands, so each flag means the same everywhere."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from csops.console import OUTPUT_FORMATS
from csops.renderer import limits

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


context = click.option(
    "--context",
    default=None,
    metavar="NAME",
    help="The kubeconfig context to use (default: its current context).",
)


def namespace(help_text: str) -> Callable[[F], F]:
    """kubectl's ``-n/--namespace``."""
    return click.option("-n", "--namespace", default=None, metavar="NAMESPACE", help=help_text)


def inventory_namespace(
    help_text: str = "Namespace of the inventory Secret.",
) -> Callable[[F], F]:
    """``--inventory-namespace``: where the sync's inventory (ApplySet parent) lives."""
    return click.option(
        "--inventory-namespace", default="csops-system", show_default=True, help=help_text
    )


class Address(click.ParamType):  # type: ignore[type-arg]
    """``HOST:PORT``, ``:PORT`` (every interface) or ``[IPv6]:PORT``: one form for every address
    csops listens on."""

    name = "HOST:PORT"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str, int]:
        if isinstance(value, tuple):
            return value
        host, sep, port = str(value).rpartition(":")
        host = host.strip("[]") or "0.0.0.0"
        if not sep or not port.isdigit() or int(port) > 65535:
            self.fail(f"{value!r}: expected HOST:PORT or :PORT (e.g. :8080, 127.0.0.1:8080)")
        return (host, int(port))


ADDRESS = Address()


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


LOG_LEVELS = ("debug", "info", "warning", "error")


def logging(command: F) -> F:
    """``--log-format``, ``--log-level`` and ``-v`` (the same as ``--log-level debug``)."""
    command = click.option(
        "-v",
        "--verbose",
        is_flag=True,
        help="Log more: the same as --log-level debug.",
    )(command)
    command = click.option(
        "--log-level",
        type=click.Choice(LOG_LEVELS),
        default="info",
        show_default=True,
        help="Least severe level logged.",
    )(command)
    return click.option(
        "--log-format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="Log lines as text (with a UTC timestamp) or as one JSON object per line.",
    )(command)


def log_level(level: str, verbose: bool) -> str:
    """The level ``--log-level`` and ``-v`` ask for together."""
    return "debug" if verbose else level


stage_timeout = click.option(
    "--stage-timeout",
    type=float,
    default=600.0,
    show_default=True,
    help="Longest an addon stage waits for its pre-/post-condition, seconds (0: no limit).",
)

addon_workers = click.option(
    "--addon-workers",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Clusters whose addons are reconciled at the same time (the addon controller's "
    "worker pool); one cluster is never reconciled twice at once.",
)

upgrade_timeout = click.option(
    "--upgrade-timeout",
    type=float,
    default=900.0,
    show_default=True,
    help="Longest a BeforeClusterUpgrade hook holds an upgrade, seconds.",
)

hook_listen = click.option(
    "--hook-listen",
    type=ADDRESS,
    default=None,
    help="Serve CAPI runtime hooks (HTTPS) on HOST:PORT or :PORT.",
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


def render_limits(command: F) -> F:
    """``--render-timeout``, ``--max-object-size``, ``--max-release-size``: the bounds of one
    render (:mod:`csops.renderer.limits`), in force while the command runs."""

    @functools.wraps(command)
    def run(
        *args: Any,
        render_timeout: float,
        max_object_size: int,
        max_release_size: int,
        **kwargs: Any,
    ) -> Any:
        bounds = limits.Limits(render_timeout, max_object_size, max_release_size)
        with limits.applied(bounds):
            return command(*args, **kwargs)

    table: list[tuple[str, click.ParamType[Any], float, str, str]] = [
        (
            "--render-timeout",
            click.FloatRange(min=1),
            limits.DEFAULT.render_timeout,
            "SECONDS",
            "Longest one Helm render of a chart may take.",
        ),
        (
            "--max-object-size",
            click.IntRange(min=1),
            limits.DEFAULT.max_object_bytes,
            "BYTES",
            "Largest rendered object.",
        ),
        (
            "--max-release-size",
            click.IntRange(min=1),
            limits.DEFAULT.max_release_bytes,
            "BYTES",
            "Most bytes one chart render may produce.",
        ),
    ]
    flags = [
        click.option(name, type=kind, default=default, show_default=True, metavar=unit, help=text)
        for name, kind, default, unit, text in table
    ]
    for flag in reversed(flags):
        run = flag(run)
    return cast(F, run)
