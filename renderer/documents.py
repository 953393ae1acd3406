"""YAML in and out: parse with line numbers for errors, emit deterministic bytes.

Input goes through :mod:`csops.yamldoc` (duplicate keys and alias bombs refused) and never
raises anything but a :class:`SourceError` naming the file and line. Output is block-style,
keys sorted, multi-line strings as literal blocks, no timestamps: the same objects always give
the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from csops import yamldoc
from csops.renderer import blockyaml
from csops.renderer.errors import Problem, SourceError

_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _BlockDumper(_Dumper):  # type: ignore[valid-type,misc]
    """Safe dumper that writes multi-line strings as literal blocks."""


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data and not any(line != line.rstrip() for line in data.split("\n")):
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_BlockDumper.add_representer(str, _str_representer)


def dump(obj: Any) -> bytes:
    """One YAML document, deterministic (the fast emitter when it can, the same bytes)."""
    try:
        return blockyaml.dump(obj)
    except blockyaml.Unsupported:
        return pyyaml_dump(obj)


def pyyaml_dump(obj: Any) -> bytes:
    """One YAML document through PyYAML and libyaml: the reference of :func:`dump`."""
    text: str = yaml.dump(
        obj,
        Dumper=_BlockDumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=1_000_000,
    )
    return text.encode()


def _problem(path: str, exc: yaml.YAMLError) -> Problem:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    reason = getattr(exc, "problem", None) or str(exc)
    if isinstance(exc, yamldoc.DuplicateKeyError):
        return Problem(path, reason, line=line, hint="remove one of the two")
    if isinstance(exc, yamldoc.AliasBombError):
        return Problem(path, reason, line=line)
    return Problem(path, f"malformed YAML: {reason}", line=line, hint="fix the YAML syntax")


def read_text(path: Path, display: str) -> str:
    """A UTF-8 text file; unreadable or not UTF-8 is a SourceError naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise _not_utf8(display, exc) from exc
    except OSError as exc:
        raise SourceError(Problem(display, f"cannot read file: {exc.strerror or exc}")) from exc


def decode(data: bytes, display: str) -> str:
    """The text of a file already read, as :func:`read_text` gives it (newlines made ``\\n``)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_utf8(display, exc) from exc
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _not_utf8(display: str, exc: UnicodeDecodeError) -> SourceError:
    return SourceError(
        Problem(
            display,
            f"is not UTF-8 text (byte {exc.start}: {exc.reason})",
            hint="save it as UTF-8",
        )
    )


def load_one(path: Path, *, display: str | None = None) -> Any:
    """Load a single-document YAML file; malformed YAML is a SourceError with its line."""
    name = display or str(path)
    return loads_one(read_text(path, name), name)


def loads_one(text: str, display: str) -> Any:
    """Parse a single YAML document from text."""
    try:
        return yamldoc.load(text)
    except yaml.YAMLError as exc:
        raise SourceError(_problem(display, exc)) from exc


def loads_all(text: str, display: str) -> Iterator[Any]:
    """Parse every document of a multi-document YAML text; empty documents are skipped."""
    try:
        for doc in yamldoc.load_all(text):
            if doc is not None:
                yield doc
    except yaml.YAMLError as exc:
        raise SourceError(_problem(display, exc)) from exc


def line_index(text: str) -> dict[tuple[str | int, ...], int]:
    """Map each path of keys/indices in a YAML document to its 1-based line.

    Used to put a line number on schema errors; returns ``{}`` for unparsable text.
    """
    try:
        node = yamldoc.compose(text)
    except yaml.YAMLError:
        return {}
    index: dict[tuple[str | int, ...], int] = {}

    def walk(n: yaml.Node, path: tuple[str | int, ...]) -> None:
        index[path] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            for key, value in n.value:
                k = key.value if isinstance(key, yaml.ScalarNode) else str(key)
                walk(value, (*path, k))
                index[(*path, k)] = key.start_mark.line + 1
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                walk(item, (*path, i))

    if node is not None:
        walk(node, ())
    return index


def _node_at(text: str, path: tuple[str, ...]) -> yaml.Node | None:
    try:
        node = yamldoc.compose(text)
    except yaml.YAMLError:
        return None
    for key in path:
        if not isinstance(node, yaml.MappingNode):
            return None
        node = next(
            (v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None
        )
    return node


def raw_scalar(text: str, path: tuple[str, ...]) -> str | None:
    """A scalar exactly as written (``1.30`` stays ``"1.30"``, where YAML reads the number 1.3)."""
    node = _node_at(text, path)
    return node.value if isinstance(node, yaml.ScalarNode) else None


def raw_mapping(text: str, path: tuple[str, ...]) -> dict[str, tuple[str, int]] | None:
    """A mapping of scalars as written: key → (value, line); ``None`` when not a mapping."""
    node = _node_at(text, path)
    if not isinstance(node, yaml.MappingNode):
        return None
    return {
        k.value: (v.value, k.start_mark.line + 1)
        for k, v in node.value
        if isinstance(k, yaml.ScalarNode) and isinstance(v, yaml.ScalarNode)
    }
