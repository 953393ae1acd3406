"""A fast emitter for the rendered tree's one-object-per-file YAML.

It writes exactly the bytes :func:`csops.renderer.documents.dump` gets from PyYAML's safe
representer and libyaml's emitter (block style, sorted keys, no line folding, multi-line
strings without trailing blanks as literal blocks), for the shapes Kubernetes objects have:
mappings with string keys, lists, ASCII strings, integers, booleans and null. Anything else
(floats, non-ASCII text, shared sub-objects that would get anchors, long or multi-line keys,
literal blocks needing an indentation or keep indicator) raises :class:`Unsupported`, and the
caller falls back to PyYAML, so the output never depends on which path was taken.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import yaml

_STR_TAG = "tag:yaml.org,2002:str"
_RESOLVER = yaml.resolver.Resolver()
_PRINTABLE = re.compile(r"[\x20-\x7e]*\Z")
_PRINTABLE_LINES = re.compile(r"[\x20-\x7e\n]*\Z")
_MAX_SCALAR = 10_000  # far below the emitter's line width of 1,000,000: never folded
_MAX_SIMPLE_KEY = 128  # libyaml writes longer keys as explicit "? key" entries


class Unsupported(Exception):
    """The object has a shape this emitter does not reproduce; use PyYAML."""


@lru_cache(maxsize=65536)
def _plain_resolves_to_str(value: str) -> bool:
    tag = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    return bool(tag == _STR_TAG)


@lru_cache(maxsize=65536)
def _plain_allowed(value: str) -> bool:
    """libyaml's scalar analysis for one printable ASCII line in block context."""
    if not value:
        return True
    if value.startswith(("---", "...")):
        return False
    if value[0] == " " or value[-1] == " ":
        return False
    first = value[0]
    follows_blank = len(value) == 1 or value[1] == " "
    if first in "#,[]{}&*!|>'\"%@`":
        return False
    if first in "?:-" and follows_blank:
        return False
    return not (": " in value or value.endswith(":") or " #" in value)


@lru_cache(maxsize=65536)
def _line_scalar(value: str, key: bool) -> str:
    """A one-line string as libyaml writes it: plain if it may be, else single-quoted."""
    if len(value) > _MAX_SCALAR or not _PRINTABLE.match(value):
        raise Unsupported("string")
    if key and (not value or len(value) > _MAX_SIMPLE_KEY):
        raise Unsupported("key")
    if _plain_allowed(value) and _plain_resolves_to_str(value):
        return value
    return "'" + value.replace("'", "''") + "'"


def _literal(value: str, indent: int) -> str:
    if len(value) > _MAX_SCALAR * 10 or not _PRINTABLE_LINES.match(value):
        raise Unsupported("string")
    if value[0] in " \n" or value.endswith("\n\n") or value == "\n":
        raise Unsupported("literal indicator")
    head = "|" if value.endswith("\n") else "|-"
    pad = " " * indent
    body = value[:-1] if value.endswith("\n") else value
    lines = [f"{pad}{line}" if line else "" for line in body.split("\n")]
    return head + "\n" + "\n".join(lines) + "\n"


def _is_literal(value: str) -> bool:
    # The representer's rule (documents._str_representer).
    return "\n" in value and not any(line != line.rstrip() for line in value.split("\n"))


def _scalar(value: Any, indent: int) -> str | None:
    """A scalar value followed by its newline, or None for a collection."""
    kind = type(value)
    if kind is str:
        if "\n" in value:
            if not _is_literal(value):
                raise Unsupported("multi-line string with trailing blanks")
            return _literal(value, indent)
        return _line_scalar(value, False) + "\n"
    if kind is bool:
        return "true\n" if value else "false\n"
    if kind is int:
        return f"{value}\n"
    if value is None:
        return "null\n"
    if kind is dict or kind is list:
        return None
    raise Unsupported(kind.__name__)


class _Emitter:
    def __init__(self) -> None:
        self.out: list[str] = []
        self.seen: set[int] = set()

    def _enter(self, obj: Any) -> None:
        if id(obj) in self.seen:
            raise Unsupported("shared sub-object (PyYAML writes an anchor)")
        self.seen.add(id(obj))

    def mapping(self, obj: dict[Any, Any], indent: int, first_inline: bool) -> None:
        """A non-empty mapping whose keys start at ``indent``; the first key may follow '- '."""
        self._enter(obj)
        pad = " " * indent
        out = self.out
        try:
            items = sorted(obj.items())
        except TypeError as exc:
            raise Unsupported("unsortable keys") from exc
        for n, (key, value) in enumerate(items):
            if type(key) is not str:
                raise Unsupported("non-string key")
            lead = "" if n == 0 and first_inline else pad
            name = _line_scalar(key, True)
            text = _scalar(value, indent + 2)
            if text is not None:
                out.append(f"{lead}{name}: {text}")
            elif not value:
                self._enter(value)
                out.append(f"{lead}{name}: {'{}' if type(value) is dict else '[]'}\n")
            elif type(value) is dict:
                out.append(f"{lead}{name}:\n")
                self.mapping(value, indent + 2, False)
            else:
                out.append(f"{lead}{name}:\n")
                self.sequence(value, indent, False)

    def sequence(self, obj: list[Any], indent: int, first_inline: bool) -> None:
        """A non-empty block sequence whose dashes start at ``indent``."""
        self._enter(obj)
        pad = " " * indent
        out = self.out
        for n, item in enumerate(obj):
            lead = "- " if n == 0 and first_inline else f"{pad}- "
            text = _scalar(item, indent + 2)
            if text is not None:
                out.append(lead + text)
            elif not item:
                self._enter(item)
                out.append(lead + ("{}\n" if type(item) is dict else "[]\n"))
            elif type(item) is dict:
                out.append(lead)
                self.mapping(item, indent + 2, True)
            else:
                out.append(lead)
                self.sequence(item, indent + 2, True)


def dump(obj: Any) -> bytes:
    """One document as ``documents.dump`` writes it; :class:`Unsupported` if not reproducible."""
    if type(obj) is not dict or not obj:
        raise Unsupported("top level")
    emitter = _Emitter()
    emitter.mapping(obj, 0, False)
    return "".join(emitter.out).encode()
