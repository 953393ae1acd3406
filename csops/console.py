"""Terminal output for every command: errors on stderr, data on stdout, colour only on a TTY."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import click
import yaml
from rich.console import Console
from rich.markup import escape

from csops.errors import Problem

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

OUTPUT_FORMATS = ("text", "yaml", "json")


def problems(items: Iterable[Problem], *, level: str = "error") -> None:
    """Print problems, one per line, as ``error: file:line: field: message (hint)``."""
    style = "bold red" if level == "error" else "yellow"
    for problem in items:
        err.print(f"[{style}]{level}:[/] {escape(str(problem))}", markup=True, highlight=False)


def structured(data: Any, fmt: str) -> None:
    """Print data as YAML or JSON on stdout (kubectl's ``-o``)."""
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        click.echo(yaml.safe_dump(data, sort_keys=True, default_flow_style=False).rstrip())


def table(headers: list[str], rows: list[list[str]], *, header: bool = True) -> None:
    """A kubectl-style table on stdout: upper-case headers, columns padded, never truncated.

    Without ``header`` only the rows are printed (``--watch`` adds rows under a table)."""
    widths = [
        max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)
    ]
    for line in [headers, *rows] if header else rows:
        click.echo("   ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=False)).rstrip())


@contextmanager
def progress(message: str) -> Iterator[None]:
    """A spinner on stderr for long work, when stderr is a terminal."""
    if sys.stderr.isatty():
        with err.status(message):
            yield
    else:
        yield
