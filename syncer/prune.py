"""Decide which stale inventory members may be deleted, with guards stronger than Flux/Argo.

- an empty desired set never prunes (the revision is rejected before this point);
- deleting more than ``max_share`` of the inventory needs ``allow_mass_prune``;
- ``csops.io/prune: disabled`` on the live object orphans it instead;
- CRDs and Namespaces are never deleted unless ``allow_crd_prune``;
- an object whose live ``part-of`` label names another ApplySet is released, not deleted;
- a ClusterClass, the templates it references and every object of its release (including the
  ClusterStackRelease) are kept while any Cluster in any namespace uses the class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from csops.renderer import PRUNE_ANNOTATION, RELEASES_ANNOTATION
from csops.syncer.applyset import PART_OF_LABEL
from csops.syncer.objects import ObjectId
from csops.syncer.ordering import FOUNDATION, stage_of
from csops.syncer.usage import ClassUsage, referenced_templates


@dataclass
class PrunePlan:
    delete: list[ObjectId] = field(default_factory=list)
    kept_in_use: dict[ObjectId, list[str]] = field(default_factory=dict)
    orphaned: list[ObjectId] = field(default_factory=list)  # opt-out or owned by another set
    gone: list[ObjectId] = field(default_factory=list)
    protected: list[ObjectId] = field(default_factory=list)  # CRDs / Namespaces
    blocked: str | None = None  # why nothing is deleted this time

    @property
    def released(self) -> set[ObjectId]:
        """Members that leave the inventory without a delete: confirmed gone, or released by
        their opt-out or another owner. None when the prune is blocked: everything stays."""
        return set() if self.blocked else set(self.gone) | set(self.orphaned)


@dataclass(frozen=True)
class PruneGuards:
    max_share: float = 0.5
    allow_mass_prune: bool = False
    allow_crd_prune: bool = False


def plan(
    stale: set[ObjectId],
    live: Callable[[ObjectId], dict[str, Any] | None],
    *,
    applyset: str,
    inventory_size: int,
    usage: ClassUsage,
    guards: PruneGuards,
) -> PrunePlan:
    """Classify every stale member; ``live`` fetches the live object (None when gone)."""
    result = PrunePlan()
    lives = {oid: live(oid) for oid in sorted(stale)}
    protected_refs: set[ObjectId] = set()
    for oid, obj in lives.items():
        if (
            obj is not None
            and oid.kind == "ClusterClass"
            and usage.users_of(oid, obj, RELEASES_ANNOTATION)
        ):
            protected_refs |= referenced_templates(obj)
    for oid, obj in lives.items():
        if obj is None:
            result.gone.append(oid)
            continue
        meta = obj.get("metadata") or {}
        if (meta.get("labels") or {}).get(PART_OF_LABEL) != applyset:
            result.orphaned.append(oid)
            continue
        if (meta.get("annotations") or {}).get(PRUNE_ANNOTATION) == "disabled":
            result.orphaned.append(oid)
            continue
        users = usage.users_of(oid, obj, RELEASES_ANNOTATION)
        if not users and oid in protected_refs:
            users = ["(template of a ClusterClass in use)"]
        if users:
            result.kept_in_use[oid] = users
            continue
        if stage_of(oid) == FOUNDATION and not guards.allow_crd_prune:
            result.protected.append(oid)
            continue
        result.delete.append(oid)
    limit = guards.max_share * max(inventory_size, 1)
    if len(result.delete) > limit and not guards.allow_mass_prune:
        result.blocked = (
            f"refusing to prune {len(result.delete)} of {inventory_size} objects "
            f"(more than {guards.max_share:.0%}); pass --allow-mass-prune to allow it"
        )
    return result
