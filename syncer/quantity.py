"""Kubernetes resource quantities (``resource.Quantity``): parse to an exact value.

The API server stores quantities in canonical form (``1000m`` -> ``1``, ``0.5`` -> ``500m``,
``1024Mi`` -> ``1Gi``), so two spellings are the same quantity when their values are equal.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_PATTERN = re.compile(
    r"^(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<binary>Ki|Mi|Gi|Ti|Pi|Ei)|(?P<exponent>[eE][+-]?[0-9]+)|(?P<decimal>[numkMGTPE]?))$"
)

# Map keys whose values are quantities (resources.limits, ResourceQuota hard, LimitRange, ...)
QUANTITY_MAPS = frozenset(
    {
        "limits",
        "requests",
        "hard",
        "used",
        "capacity",
        "allocatable",
        "overhead",
        "podFixed",
        "default",
        "defaultRequest",
        "max",
        "min",
        "maxLimitRequestRatio",
    }
)
# Fields that are a quantity themselves.
QUANTITY_FIELDS = frozenset({"sizeLimit", "maximumVolumeSize"})


class QuantityError(ValueError):
    """Not a valid Kubernetes quantity."""


def parse(value: str | int | float) -> Decimal:
    """The exact value of a quantity: ``parse("1500m") == Decimal("1.5")``."""
    if isinstance(value, bool):
        raise QuantityError(f"{value!r} is not a quantity")
    if isinstance(value, int | float):
        try:
            return Decimal(str(value))
        except InvalidOperation as exc:
            raise QuantityError(f"{value!r} is not a quantity") from exc
    match = _PATTERN.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise QuantityError(f"{value!r} is not a quantity")
    number = Decimal(match["number"])
    if match["binary"]:
        return number * (Decimal(1024) ** _BINARY[match["binary"]])
    if match["exponent"]:
        return number.scaleb(int(match["exponent"][1:]))
    return number.scaleb(_DECIMAL[match["decimal"] or ""])


def equal(a: object, b: object) -> bool:
    """Both are quantities with the same value (False when either does not parse)."""
    if not isinstance(a, str | int | float) or not isinstance(b, str | int | float):
        return False
    try:
        return parse(a) == parse(b)
    except QuantityError:
        return False


def is_quantity_path(path: tuple[str, ...]) -> bool:
    """True for ``.../limits/cpu``, ``.../hard/pods``, ``.../emptyDir/sizeLimit`` and the like."""
    if not path:
        return False
    return path[-1] in QUANTITY_FIELDS or (len(path) >= 2 and path[-2] in QUANTITY_MAPS)
