"""CEL pre- and post-conditions of addon stages, evaluated against workload-cluster objects.

Each listed object is fetched from the workload cluster and bound under its ``key``; the
expression must evaluate to boolean ``true``. A missing object, an evaluation error or a
non-boolean result is an unmet condition with a message saying why — never a crash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import celpy
from celpy import celparser, celtypes
from celpy.adapter import json_to_cel

from csops.renderer import Condition
from csops.syncer.errors import ApiError
from csops.syncer.kube import Kube

DEFAULT_NAMESPACE = "kube-system"


@dataclass(frozen=True)
class Verdict:
    met: bool
    message: str = ""
    error: bool = False  # the expression or its objects are broken, not merely "not yet"


def evaluate(expression: str, bindings: dict[str, dict[str, Any]]) -> Verdict:
    """Evaluate ``expression`` with each object bound under its key (pure)."""
    env = celpy.Environment()
    try:
        program = env.program(env.compile(expression))
        result = program.evaluate({k: json_to_cel(v) for k, v in bindings.items()})
    except celparser.CELParseError as exc:
        return Verdict(False, f"CEL expression {expression!r} does not parse: {exc}", error=True)
    except Exception as exc:  # celpy raises CELEvalError and friends for bad data
        return Verdict(False, f"CEL expression {expression!r} failed: {_message(exc)}", error=True)
    if isinstance(result, Exception):
        return Verdict(False, f"CEL expression {expression!r} failed: {_message(result)}", True)
    if not isinstance(result, celtypes.BoolType):
        return Verdict(
            False,
            f"CEL expression {expression!r} gave {type(result).__name__}, not a bool",
            error=True,
        )
    if not bool(result):
        return Verdict(False, f"CEL expression {expression!r} is false")
    return Verdict(True)


def _message(exc: BaseException) -> str:
    args = getattr(exc, "args", ())
    return str(args[0]) if args else str(exc)


def check(condition: Condition, kube: Kube) -> Verdict:
    """Fetch the condition's objects from the workload cluster and evaluate it."""
    bindings: dict[str, dict[str, Any]] = {}
    for ref in condition.objects:
        key, kind, name = ref.get("key", ""), ref.get("kind", ""), ref.get("name", "")
        api_version = ref.get("apiVersion", "")
        where = f"{kind} {ref.get('namespace') or DEFAULT_NAMESPACE}/{name}"
        try:
            resource = kube.resource(api_version, kind)
            namespace = (ref.get("namespace") or DEFAULT_NAMESPACE) if resource.namespaced else None
            obj = kube.get_or_none(resource, namespace, name)
        except ApiError as exc:
            return Verdict(False, f"cannot read {where} ({api_version}): {exc}")
        if obj is None:
            return Verdict(False, f"waiting for {where} to exist (CEL key {key!r})")
        bindings[key] = obj
    return evaluate(condition.expression, bindings)
