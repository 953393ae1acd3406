"""Secret values hidden from review output, as ``kubectl diff`` and Argo CD hide them.

A diff of two versions of a Secret shows which keys of ``data`` and ``stringData`` exist and
whether their values changed, never the values: an unchanged value becomes ``***``, a changed
one ``*** (before)`` on one side and ``*** (after)`` on the other. The
``kubectl.kubernetes.io/last-applied-configuration`` annotation, which repeats the whole
object, is hidden the same way. Pure: objects in, masked copies out.
"""

from __future__ import annotations

import copy
from typing import Any

MASK = "***"
SECRET_FIELDS = ("data", "stringData")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

Obj = dict[str, Any]


def is_secret(obj: Obj | None) -> bool:
    """Whether ``obj`` is a core ``v1`` Secret."""
    return isinstance(obj, dict) and obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1"


def has_values(obj: Obj | None) -> bool:
    """Whether ``obj`` is a Secret that carries at least one value."""
    return is_secret(obj) and any(
        isinstance((obj or {}).get(f), dict) and (obj or {})[f] for f in SECRET_FIELDS
    )


def masked(before: Obj | None, after: Obj | None) -> tuple[Obj | None, Obj | None]:
    """Copies of two versions of one object with every Secret value hidden; other kinds are
    returned as they are."""
    if not (is_secret(before) or is_secret(after)):
        return before, after
    old, new = copy.deepcopy(before), copy.deepcopy(after)
    for field in SECRET_FIELDS:
        was = _values(old, field)
        now = _values(new, field)
        for key in set(was) | set(now):
            same = key in was and key in now and was[key] == now[key]
            if key in was:
                was[key] = MASK if same else f"{MASK} (before)"
            if key in now:
                now[key] = MASK if same else f"{MASK} (after)"
    for obj in (old, new):
        annotations = ((obj or {}).get("metadata") or {}).get("annotations")
        if isinstance(annotations, dict) and LAST_APPLIED in annotations:
            annotations[LAST_APPLIED] = MASK
    return old, new


def _values(obj: Obj | None, field: str) -> dict[str, Any]:
    values = (obj or {}).get(field)
    return values if isinstance(values, dict) else {}
