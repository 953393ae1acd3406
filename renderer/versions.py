"""Cluster stack versions: the CSO grammar in dot and dash form, compared numerically.

``v1`` is channel ``stable``; ``v0-sha.abc1234`` is major 0, channel ``sha``, patch ``abc1234``.
Dot form is used in ClusterStack specs, metadata.yaml, chart versions and ClusterClass names;
dash form in release names and ClusterStackRelease names. Unlike CSO, patches that are
integers compare as integers (``v1-alpha.10`` > ``v1-alpha.9``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

STABLE = "stable"
HASH_CHANNEL = "sha"

_DOT = re.compile(r"^v(?P<major>\d+)(?:-(?P<channel>[A-Za-z0-9_]+)\.(?P<patch>[A-Za-z0-9_]+))?$")
_DASH = re.compile(r"^v(?P<major>\d+)(?:-(?P<channel>[A-Za-z0-9_]+)-(?P<patch>[A-Za-z0-9_]+))?$")


class VersionError(ValueError):
    """A string is not a cluster stack version."""


@total_ordering
@dataclass(frozen=True)
class Version:
    """A parsed cluster stack version."""

    major: int
    channel: str = STABLE
    patch: str = ""

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse the dot form (``v1``, ``v0-sha.abc1234``)."""
        return cls._parse(text, _DOT, "v<major> or v<major>-<channel>.<patch>")

    @classmethod
    def parse_dash(cls, text: str) -> Version:
        """Parse the dash form used in release names (``v0-sha-abc1234``)."""
        return cls._parse(text, _DASH, "v<major> or v<major>-<channel>-<patch>")

    @classmethod
    def _parse(cls, text: str, pattern: re.Pattern[str], form: str) -> Version:
        match = pattern.match(text)
        if match is None:
            raise VersionError(f"{text!r} is not a cluster stack version ({form})")
        channel = match["channel"] or STABLE
        patch = match["patch"] or ""
        if channel == STABLE and patch:
            raise VersionError(f"{text!r}: the stable channel has no patch part")
        return cls(int(match["major"]), channel, patch)

    @property
    def dot(self) -> str:
        """``v1`` or ``v1-<channel>.<patch>``."""
        return (
            f"v{self.major}"
            if self.channel == STABLE
            else f"v{self.major}-{self.channel}.{self.patch}"
        )

    @property
    def dash(self) -> str:
        """``v1`` or ``v1-<channel>-<patch>``."""
        return (
            f"v{self.major}"
            if self.channel == STABLE
            else f"v{self.major}-{self.channel}-{self.patch}"
        )

    def bumped(self) -> Version:
        """The next version in this channel: ``v2`` → ``v3``; ``v1-rc.9`` → ``v1-rc.10``.

        csctl replaces every integer run in the string instead; this is plain arithmetic.
        """
        if self.channel == STABLE:
            return Version(self.major + 1)
        if not self.patch.isdigit():
            raise VersionError(
                f"{self.dot}: a {self.channel!r} version with patch {self.patch!r} cannot be bumped"
            )
        return Version(self.major, self.channel, str(int(self.patch) + 1))

    def _key(self) -> tuple[str, int, int, str]:
        numeric = self.patch.isdigit()
        return (
            self.channel,
            self.major,
            int(self.patch) if numeric else -1,
            "" if numeric else self.patch,
        )

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()

    def __str__(self) -> str:
        return self.dot


def hash_version(stack_hash: str) -> Version:
    """The hash-mode version csctl derives from a cleaned stack hash: ``v0-sha.<7>``."""
    return Version(0, HASH_CHANNEL, stack_hash[:7])
