"""The renderer's error tree: every error names a file, a field where known, and a way out."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

NEEDS_NETWORK = "needs network"
"""How every message about a chart dependency that is not vendored and cannot be fetched starts."""


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the input, precise enough for a user to fix it."""

    file: str
    message: str
    field: str = ""
    line: int | None = None
    hint: str = ""

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        text = f"{where}: "
        if self.field:
            text += f"{self.field}: "
        text += self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class RendererError(Exception):
    """Base class: something in the stacks repository prevents a render."""

    def __init__(self, problems: list[Problem] | Problem) -> None:
        self.problems: list[Problem] = problems if isinstance(problems, list) else [problems]
        super().__init__("\n".join(str(p) for p in self.problems))


class SourceError(RendererError):
    """A stack source, ClusterStack or config file is malformed or inconsistent."""


class HelmError(RendererError):
    """The Helm engine refused a chart (template error, bad values, missing dependency)."""


class ImmutableReleaseError(RendererError):
    """A render (or a change) would modify an existing, immutable release bundle."""


class GitError(RendererError):
    """A git operation failed, or the repository is not in a state csops can publish from."""


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
