"""Apply stages: CRDs and Namespaces, then what other objects refer to (``*Class`` kinds,
templates, admission policies), then the rest.

A policy goes before its binding: the API server checks a binding's creator against the
policy's ``paramKind``, and without the policy asks for ``get`` on every resource, which a
least-privilege account does not have. Pruning runs the stages in reverse.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from csops.syncer.objects import ObjectId

CRD = ObjectId("apiextensions.k8s.io", "CustomResourceDefinition", "", "")
FOUNDATION_KINDS = frozenset(
    {("apiextensions.k8s.io", "CustomResourceDefinition"), ("", "Namespace")}
)
#: Admission policies, referred to by their bindings.
POLICY_KINDS = frozenset(
    {
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
    }
)
FOUNDATION, CLASSES, REST = 0, 1, 2
STAGE_NAMES = ("crds-and-namespaces", "classes-and-templates", "objects")

T = TypeVar("T")


def is_crd(oid: ObjectId) -> bool:
    return (oid.group, oid.kind) == (CRD.group, CRD.kind)


def stage_of(oid: ObjectId) -> int:
    if (oid.group, oid.kind) in FOUNDATION_KINDS:
        return FOUNDATION
    if oid.kind.endswith(("Class", "Template")) or (oid.group, oid.kind) in POLICY_KINDS:
        return CLASSES
    return REST


def staged(items: Iterable[T], key: Callable[[T], ObjectId]) -> list[list[T]]:
    """Items grouped by stage, in apply order (empty stages kept, so indexes are stable)."""
    stages: list[list[T]] = [[], [], []]
    for item in items:
        stages[stage_of(key(item))].append(item)
    return stages
