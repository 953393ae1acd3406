"""The root of every error csops reports to a user, and the exit code each kind stands for.

::

    CsopsError                          exit 1: the base; the CLI prints it and exits
    ├── UsageError                      exit 2: the command line asks for something impossible
    ├── CommandFailed                   exit 1: the command ran and its answer is "no"
    ├── csops.gitrepo.GitError          a git operation failed, or the repository is unusable
    ├── csops.renderer.RendererError    problems in a stacks repository (file:line: field: …)
    ├── csops.syncer.SyncError          the syncer could not finish (API, fetch, revision, …)
    └── csops.controlplane.ControlPlaneError

Library code raises these and never exits; :mod:`csops.cli` maps them to output and an exit
code in one place. An error made of :class:`Problem` entries prints one line per problem.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


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


class CsopsError(Exception):
    """Base of every error csops reports to a user; ``exit_code`` is what the CLI exits with."""

    exit_code: ClassVar[int] = EXIT_FAILED

    @property
    def problems(self) -> list[Problem]:
        """The problems this error is made of (none: the message says it all)."""
        return []


class ProblemError(CsopsError):
    """An error made of one or more :class:`Problem` entries."""

    def __init__(self, problems: Iterable[Problem] | Problem) -> None:
        self._problems: list[Problem] = (
            [problems] if isinstance(problems, Problem) else list(problems)
        )
        super().__init__("\n".join(str(p) for p in self._problems))

    @property
    def problems(self) -> list[Problem]:
        return self._problems


class UsageError(CsopsError):
    """The command line asks for something that cannot be done (exit code 2)."""

    exit_code: ClassVar[int] = EXIT_USAGE


class CommandFailed(CsopsError):
    """The command ran and its answer is "no": a stale tree, differences, a cluster not ready.

    Without a message the command has already said why.
    """
