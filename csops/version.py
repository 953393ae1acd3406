"""The csops version, read once from the installed distribution's metadata."""

from __future__ import annotations

import importlib.metadata


def _installed() -> str:
    try:
        return importlib.metadata.version("csops")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


VERSION = _installed()
