"""Names of releases, ClusterClasses, charts and archives, bit-exact with csctl and CSO.

``P-N-M-m-V``: provider, stack name, Kubernetes major and minor, version (dash form for
releases, dot form for ClusterClasses).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from csops.renderer.versions import Version, VersionError

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_STACK_PART = re.compile(r"^[a-z0-9]+$")
_K8S_FULL = re.compile(r"^v(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)$")
_K8S_MINOR = re.compile(r"^v?(?P<major>\d+)\.(?P<minor>\d+)$")
_MAX_OBJECT_NAME = 63


class NamingError(ValueError):
    """A provider, stack name or Kubernetes version breaks the naming rules."""


@dataclass(frozen=True, order=True)
class KubernetesVersion:
    """A full Kubernetes version ``vX.Y.Z``."""

    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> KubernetesVersion:
        """Parse ``v1.29.4``; anything else is an error."""
        match = _K8S_FULL.match(text)
        if match is None:
            raise NamingError(f"{text!r} is not a Kubernetes version of the form vX.Y.Z")
        version = cls(int(match["major"]), int(match["minor"]), int(match["patch"]))
        if version.major == 0 or version.minor == 0:
            raise NamingError(f"{text!r}: major and minor must not be zero")
        return version

    @property
    def minor_dash(self) -> str:
        """``1-29``."""
        return f"{self.major}-{self.minor}"

    @property
    def minor_dot(self) -> str:
        """``1.29``, the form of ``ClusterStack.spec.kubernetesVersion``."""
        return f"{self.major}.{self.minor}"

    def __str__(self) -> str:
        return f"v{self.major}.{self.minor}.{self.patch}"


def parse_minor(text: str) -> tuple[int, int]:
    """Parse a ClusterStack ``kubernetesVersion`` such as ``"1.29"``."""
    match = _K8S_MINOR.match(text)
    if match is None:
        raise NamingError(f"{text!r} is not a Kubernetes minor of the form X.Y (quote it in YAML)")
    return int(match["major"]), int(match["minor"])


def check_provider(provider: str) -> None:
    """A provider is a DNS label without ``-`` or ``.`` (they would break release names)."""
    if not _DNS_LABEL.match(provider) or len(provider) > 253:
        raise NamingError(f"provider {provider!r} must be a lower-case DNS label")
    if not _STACK_PART.match(provider):
        raise NamingError(f"provider {provider!r} must not contain '-' or '.'")


def check_stack_name(name: str) -> None:
    """A stack name is lower-case letters and digits: ``-`` and ``.`` break CSO's parsing."""
    if not _STACK_PART.match(name):
        raise NamingError(
            f"stack name {name!r} must be lower-case letters and digits only "
            "(no '-' or '.', they break release and ClusterClass names)"
        )


@dataclass(frozen=True, order=True)
class StackId:
    """Provider, stack name and Kubernetes minor: one line of releases."""

    provider: str
    name: str
    major: int
    minor: int

    @property
    def prefix(self) -> str:
        """``docker-alder-1-29``: the Helm release name CSO uses for the class chart."""
        return f"{self.provider}-{self.name}-{self.major}-{self.minor}"

    @property
    def class_chart(self) -> str:
        """Required name of the cluster-class chart."""
        return f"{self.prefix}-cluster-class"

    @property
    def addon_chart(self) -> str:
        """Required name of the single addon chart (old convention)."""
        return f"{self.prefix}-cluster-addon"

    def release_name(self, version: Version) -> str:
        """``docker-alder-1-29-v2`` / ``…-v0-sha-abc1234``: release dir and ClusterStackRelease."""
        return f"{self.prefix}-{version.dash}"

    def class_name(self, version: Version) -> str:
        """``docker-alder-1-29-v2`` / ``…-v0-sha.abc1234``: the ClusterClass."""
        return f"{self.prefix}-{version.dot}"

    def class_archive(self, version: Version) -> str:
        """File name of the packaged cluster-class chart (as ``helm package`` names it)."""
        return f"{self.class_chart}-{version.dot}.tgz"

    def addon_archive(self, addon_version: Version) -> str:
        """File name of the addon archive."""
        return f"{self.prefix}-cluster-addon-{addon_version.dot}.tgz"

    def check(self) -> None:
        """Raise if the names this stack produces break the rules."""
        check_provider(self.provider)
        check_stack_name(self.name)
        if len(self.class_name(Version(0, "sha", "x" * 7))) > _MAX_OBJECT_NAME:
            raise NamingError(f"{self.prefix}: names would exceed {_MAX_OBJECT_NAME} characters")


def parse_release_name(name: str) -> tuple[StackId, Version]:
    """Split ``P-N-M-m-V`` (dash form) into its parts."""
    parts = name.split("-")
    if len(parts) not in (5, 7):
        raise NamingError(f"{name!r} is not a release name P-N-M-m-V")
    provider, stack, major, minor = parts[:4]
    if not (major.isdigit() and minor.isdigit()):
        raise NamingError(f"{name!r}: Kubernetes major and minor must be numbers")
    try:
        version = Version.parse_dash("-".join(parts[4:]))
    except VersionError as exc:
        raise NamingError(f"{name!r}: {exc}") from exc
    return StackId(provider, stack, int(major), int(minor)), version


def class_to_release_name(class_name: str) -> str:
    """CSO's conversion: replace the single ``.`` of a ClusterClass name with ``-``."""
    return class_name.replace(".", "-") if class_name.count(".") == 1 else class_name
