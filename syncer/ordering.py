"""Apply stages: CRDs and Namespaces, then ``*Class`` kinds and templates, then the rest.

Pruning runs the stages in reverse.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from csops.syncer.objects import ObjectId

CRD = ObjectId("apiextensions.k8s.io", "CustomResourceDefinition", "", "")
FOUNDATION_KINDS = frozenset(
    {("apiextensions.k8s.io", "CustomResourceDefinition"), ("", "Namespace")}
)
FOUNDATION, CLASSES, REST = 0, 1, 2
STAGE_NAMES = ("crds-and-namespaces", "classes-and-templates", "objects")

T = TypeVar("T")


def is_crd(oid: ObjectId) -> bool:
    return (oid.group, oid.kind) == (CRD.group, CRD.kind)


def stage_of(oid: ObjectId) -> int:
    if (oid.group, oid.kind) in FOUNDATION_KINDS:
        return FOUNDATION
    if oid.kind.endswith(("Class", "Template")):
        return CLASSES
    return REST


def staged(items: Iterable[T], key: Callable[[T], ObjectId]) -> list[list[T]]:
    """Items grouped by stage, in apply order (empty stages kept, so indexes are stable)."""
    stages: list[list[T]] = [[], [], []]
    for item in items:
        stages[stage_of(key(item))].append(item)
    return stages
