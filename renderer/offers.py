"""Which release each ClusterStack offers in its namespace: the listed versions, plus the
newest of its channel with ``autoSubscribe`` (pure; problems and warnings are collected).
"""

from __future__ import annotations

from dataclasses import dataclass

from csops.renderer.clusterstacks import ClusterStack
from csops.renderer.errors import Problem, ProblemList
from csops.renderer.ledger import Release
from csops.renderer.names import StackId
from csops.renderer.sources import StackSource
from csops.renderer.versions import STABLE


@dataclass
class Offer:
    """One release offered in one namespace (by a ClusterStack)."""

    namespace: str
    release: Release
    cluster_stack: ClusterStack

    @property
    def key(self) -> str:
        """``<namespace>/<release>``: the lock's key for what this offer produced."""
        return f"{self.namespace}/{self.release.name}"


def offers_of(
    cluster_stacks: list[ClusterStack],
    releases: dict[str, Release],
    sources: dict[StackId, StackSource],
    problems: ProblemList,
    warnings: list[Problem],
) -> list[Offer]:
    offers: list[Offer] = []
    for cs in cluster_stacks:
        line = sorted(
            (r for r in releases.values() if r.stack == cs.stack), key=lambda r: r.version
        )
        if not line and cs.stack not in sources:
            problems.add(
                cs.file,
                f"points at no stack: there is no source or release for {cs.stack.prefix}",
                field="spec",
                hint="check provider, name and kubernetesVersion, or add the stack source",
            )
            continue
        wanted: dict[str, Release] = {}
        for version in cs.versions:
            match = next((r for r in line if r.version == version), None)
            if match is None:
                known = ", ".join(r.version.dot for r in line) or "none"
                problems.add(
                    cs.file,
                    f"version {version.dot} of {cs.stack.prefix} does not exist",
                    field="spec.versions",
                    hint=f"existing releases: {known}; versions are cut by `csops render`",
                )
                continue
            wanted[match.name] = match
        if cs.auto_subscribe:
            channel = [r for r in line if r.version.channel == (cs.channel or STABLE)]
            if channel:
                wanted[channel[-1].name] = channel[-1]
        if not wanted:
            warnings.append(
                Problem(cs.file, "offers no release (no versions and no autoSubscribe match)")
            )
        offers.extend(Offer(cs.namespace, r, cs) for _, r in sorted(wanted.items()))
    return offers
