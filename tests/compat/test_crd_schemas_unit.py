"""csops's CRD schemas keep every rule and printer column of CSO's, and add no rule of their own.

CSO's side is built from facts (:mod:`tests.compat.cso_crds`); the API server check of the
same promise, with objects, is in ``test_crds_cso.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.compat import cso_crds
from tests.compat.crdsets import KINDS, csops_crd, version_of

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_printer_columns_are_csos(kind: str) -> None:
    ours = [
        (c["name"], c["type"], c["jsonPath"])
        for c in version_of(csops_crd(kind))["additionalPrinterColumns"]
    ]
    assert ours == list(KINDS[kind]["columns"])


def _constraints(node: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "type",
        "format",
        "default",
        "enum",
        "pattern",
        "minLength",
        "maxLength",
        "x-kubernetes-map-type",
    )
    return {k: node[k] for k in keys if k in node}


def _compare(ours: dict[str, Any], theirs: dict[str, Any], path: str, out: list[str]) -> None:
    """Differences that would make csops's schema refuse or alter what CSO's accepts."""
    if _constraints(ours) != _constraints(theirs):
        out.append(f"{path}: {_constraints(ours)} != CSO's {_constraints(theirs)}")
    extra = set(ours.get("required", [])) - set(theirs.get("required", []))
    if extra:
        out.append(f"{path}: requires {sorted(extra)} which CSO's does not")
    for name, sub in (theirs.get("properties") or {}).items():
        if name not in (ours.get("properties") or {}):
            out.append(f"{path}.{name}: missing")
            continue
        _compare(ours["properties"][name], sub, f"{path}.{name}", out)
    if "items" in theirs:
        _compare(ours.get("items") or {}, theirs["items"], f"{path}[]", out)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_schema_keeps_every_rule_of_csos_and_adds_none(kind: str) -> None:
    differences: list[str] = []
    _compare(
        version_of(csops_crd(kind))["schema"]["openAPIV3Schema"],
        version_of(cso_crds.crd(KINDS[kind]))["schema"]["openAPIV3Schema"],
        kind,
        differences,
    )
    assert differences == []
