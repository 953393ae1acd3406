"""JSON Schemas (package data ``csops.schemas``): validation naming file, field and line.

A document is first checked by ``jsonschema-rs`` (compiled, about a hundred times faster);
only a document it does not accept goes through ``jsonschema``, which then decides and words
the problems. The fast check only ever shortens the way to "valid": it follows the same
draft, and where the two could differ it is the stricter (its regular expressions' ``$``
does not match before a final newline, and it refuses Python values JSON has no type for),
so a document ``jsonschema`` refuses is never let through.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
import jsonschema_rs

from csops.renderer.documents import line_index
from csops.renderer.errors import Problem


@cache
def load(name: str) -> dict[str, Any]:
    """The schema ``schemas/<name>.json``, read from the installed package."""
    text = resources.files("csops.schemas").joinpath(f"{name}.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator(name: str) -> jsonschema.protocols.Validator:
    schema = load(name)
    cls = jsonschema.validators.validator_for(schema)
    validator: jsonschema.protocols.Validator = cls(schema)
    return validator


@cache
def _accepts(name: str) -> Callable[[Any], bool]:
    accepts: Callable[[Any], bool] = jsonschema_rs.validator_for(load(name)).is_valid
    return accepts


def _field(path: list[str | int] | tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def validate(name: str, document: Any, file: str, text: str | None = None) -> list[Problem]:
    """Problems of ``document`` against schema ``name``; ``text`` adds line numbers."""
    try:
        if _accepts(name)(document):
            return []
    except (ValueError, OverflowError, RecursionError):
        pass  # a value the fast check cannot take (a YAML timestamp, a set): jsonschema decides
    errors = sorted(_validator(name).iter_errors(document), key=lambda e: list(e.path))
    if not errors:
        return []
    lines = line_index(text) if text is not None else {}  # parsed again only to say where
    problems = []
    for error in errors:
        path = tuple(error.absolute_path)
        line = None
        for cut in range(len(path), -1, -1):
            if path[:cut] in lines:
                line = lines[path[:cut]]
                break
        message = error.message
        if error.validator == "type" and isinstance(error.instance, (dict, list)):
            found = "a list" if isinstance(error.instance, list) else "a mapping"
            message = f"is {found}, not of type {error.validator_value!r}"
        if error.validator == "required":
            message = f"{message.split(' is a required')[0]} is required"
        problems.append(
            Problem(file, message, field=_field(path), line=line, hint=_hint(name, error))
        )
    return problems


def _hint(name: str, error: jsonschema.ValidationError) -> str:
    description = error.schema.get("description") if isinstance(error.schema, dict) else None
    if description:
        return f"expected: {description}"
    return f"see schemas/{name}.json"
