"""The renderer's error tree: every error names a file, a field where known, and a way out.

Each error is a list of :class:`~csops.errors.Problem` entries (the CLI prints one per line and
exits 1); git failures are :class:`csops.gitrepo.GitError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from csops.errors import Problem, ProblemError

NEEDS_NETWORK = "needs network"
"""How every message about a chart dependency that is not vendored and cannot be fetched starts."""

__all__ = [
    "NEEDS_NETWORK",
    "HelmError",
    "ImmutableReleaseError",
    "Problem",
    "ProblemList",
    "RendererError",
    "SourceError",
    "TreeError",
]


class RendererError(ProblemError):
    """Base class: something in the stacks repository prevents a render."""


class SourceError(RendererError):
    """A stack source, ClusterStack or config file is malformed or inconsistent."""


class HelmError(RendererError):
    """The Helm engine refused a chart (template error, bad values, missing dependency)."""


class ImmutableReleaseError(RendererError):
    """A render (or a change) would modify an existing, immutable release bundle."""


class TreeError(RendererError):
    """The rendered tree could not be written or read."""


@dataclass
class ProblemList:
    """Collects problems so that validation reports all of them, not only the first."""

    problems: list[Problem] = field(default_factory=list)

    def add(
        self,
        file: str | Path,
        message: str,
        *,
        field: str = "",
        line: int | None = None,
        hint: str = "",
    ) -> None:
        """Record one problem."""
        self.problems.append(Problem(str(file), message, field, line, hint))

    def extend(self, problems: list[Problem]) -> None:
        """Record problems found elsewhere."""
        self.problems.extend(problems)

    def __bool__(self) -> bool:
        return bool(self.problems)

    def raise_if_any(self, error: type[RendererError] = SourceError) -> None:
        """Raise ``error`` carrying every recorded problem, if there are any."""
        if self.problems:
            raise error(sorted(set(self.problems), key=lambda p: (p.file, p.line or 0)))
