"""YAML as every part of csops reads it: safe, fast, and strict where YAML is lenient.

- Safe types only, through libyaml where PyYAML has it (about seven times faster, with the
  same line marks). A document without anchors is built from its nodes by a short recursive
  function rather than PyYAML's generic constructor (strings, mappings and lists directly,
  every other tag by PyYAML's own constructor): the same values in less than half the
  construction time.
- A key written twice in one mapping is an error naming both lines. YAML says keys are unique;
  PyYAML would keep the last one silently, so a second ``kubernetesVersion`` or ``name`` would
  quietly win. Merge keys (``<<``) still merge: an explicit key overrides a merged one.
- Aliases may not expand beyond :data:`MAX_ALIAS_EXPANSION` nodes (a "billion laughs"
  document is refused before anything copies or serialises it), and nesting beyond Python's
  recursion limit is an error, not a crash.

Every failure is a :class:`yaml.YAMLError` (marked with the line where the mark is known), so
callers report them as they report malformed YAML.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

MAX_ALIAS_EXPANSION = 100_000
"""How many nodes aliases may add to a document when expanded."""
RESOLVED_KEEP = 4096
"""How many scalars' resolved tags are remembered (then forgotten all at once)."""
RESOLVED_LONGEST = 64
"""Only plain scalars this short are remembered: keys and small values repeat, long texts
do not, and the memory stays small."""

_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE = "tag:yaml.org,2002:merge"
_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"


_RESOLVED: dict[tuple[str, tuple[bool, bool]], str] = {}
"""The tag each scalar resolved to, shared by every loader: keys such as ``apiVersion``,
``name`` or ``true`` repeat across documents and files, and the parser asks for the tag of
each one (a Python call trying regular expressions)."""


class DuplicateKeyError(yaml.MarkedYAMLError):
    """A mapping names one key twice."""


class AliasBombError(yaml.MarkedYAMLError):
    """Aliases would expand a document beyond :data:`MAX_ALIAS_EXPANSION` nodes."""


class NestingError(yaml.YAMLError):
    """A document is nested deeper than can be read."""


def alias_expansion(root: yaml.Node) -> int | None:
    """How many nodes the aliases of ``root`` add when every alias is expanded (``None``: an
    alias refers to a node that contains it, so the expansion never ends).

    The composer hands an alias over as the very node it names, so the expanded size counts a
    shared node once per place it appears; the expansion is that size minus the nodes written.
    Iterative, so deep documents cannot exhaust the stack here.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            return None
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    return sizes[id(root)] - len(sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


class Loader(_Base):  # type: ignore[valid-type,misc]
    """The safe loader, refusing duplicate keys and alias bombs."""

    may_alias = True
    """Whether the text can hold an alias at all (``*`` and ``&`` both in it); a document
    without one cannot expand, and its nodes are not counted."""

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: Any) -> str:
        """A short plain scalar's tag, remembered; other nodes' as PyYAML resolves them.

        The tag of a scalar depends only on its text and how it was written: the safe
        loader has no path resolvers (the parser's descend and ascend steps are no-ops).
        """
        if kind is not yaml.ScalarNode or not implicit[0] or len(value) > RESOLVED_LONGEST:
            tag: str = super().resolve(kind, value, implicit)
            return tag
        key = (value, implicit)
        known = _RESOLVED.get(key)
        if known is not None:
            return known
        tag = super().resolve(kind, value, implicit)
        if len(_RESOLVED) >= RESOLVED_KEEP:
            _RESOLVED.clear()
        _RESOLVED[key] = tag
        return tag

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        """Nothing to track: the safe loader has no path resolvers."""

    def ascend_resolver(self) -> None:
        """Nothing to track: the safe loader has no path resolvers."""

    def construct_document(self, node: yaml.Node) -> Any:
        """Refuse an alias bomb before anything of the document is built."""
        if not self.may_alias:
            return self._build(node)
        expansion = alias_expansion(node)
        if expansion is None or expansion > MAX_ALIAS_EXPANSION:
            amount = "without end" if expansion is None else f"by {expansion} nodes"
            raise AliasBombError(
                None,
                None,
                f"aliases expand this document {amount} (at most {MAX_ALIAS_EXPANSION} "
                "are allowed); write the values out instead",
                node.start_mark,
            )
        return super().construct_document(node)

    def _build(self, node: yaml.Node) -> Any:
        """A node of a document without aliases: what ``construct_document`` makes of it.

        Strings, and mappings with plain string keys and no merge key, and lists are built
        here; anything else (numbers, booleans, timestamps, other keys, other tags) by
        PyYAML's constructor, which then also reports what it refuses.
        """
        tag = node.tag
        if tag == _STR and type(node) is yaml.ScalarNode:
            return node.value
        if tag == _SEQ and type(node) is yaml.SequenceNode:
            return [self._build(item) for item in node.value]
        if (
            tag == _MAP
            and type(node) is yaml.MappingNode
            and all(k.tag == _STR and type(k) is yaml.ScalarNode for k, _ in node.value)
        ):
            mapping = {k.value: v for k, v in node.value}
            if len(mapping) < len(node.value):
                self._duplicate(node)
            return {key: self._build(value) for key, value in mapping.items()}
        return self._construct(node)

    def _construct(self, node: yaml.Node) -> Any:
        """PyYAML's construction of one node and everything below it."""
        data = self.construct_object(node, deep=True)
        self.constructed_objects: dict[yaml.Node, Any] = {}
        self.recursive_objects: dict[yaml.Node, None] = {}
        return data

    def _duplicate(self, node: yaml.MappingNode) -> None:
        """Raise for the first key of ``node`` (all plain strings) that repeats an earlier one."""
        first: dict[str, yaml.Mark] = {}
        for key_node, _ in node.value:
            earlier = first.setdefault(key_node.value, key_node.start_mark)
            if earlier is not key_node.start_mark:
                raise DuplicateKeyError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key_node.value!r} (first at line "
                    f"{earlier.line + 1}); YAML keys must be unique",
                    key_node.start_mark,
                )

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """A mapping whose explicit keys are unique."""
        first: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE:
                continue
            if key_node.tag == _STR and isinstance(key_node, yaml.ScalarNode):
                key = key_node.value  # what the constructor makes of it, without the call
            else:
                key = self.construct_object(key_node, deep=True)
            try:
                earlier = first.get(key)
            except TypeError:  # unhashable: the base class says so with its own message
                continue
            if earlier is not None:
                raise DuplicateKeyError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r} (first at line {earlier.line + 1}); "
                    "YAML keys must be unique",
                    key_node.start_mark,
                )
            first[key] = key_node.start_mark
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def _loader(text: str | bytes) -> Loader:
    loader = Loader(text)
    if isinstance(text, str):
        loader.may_alias = "*" in text and "&" in text
    else:
        loader.may_alias = b"*" in text and b"&" in text
    return loader


def load(text: str | bytes) -> Any:
    """The one document of ``text`` (``None`` when empty)."""
    loader = _loader(text)
    try:
        return loader.get_single_data()
    except RecursionError as exc:
        raise NestingError("the document is nested too deeply") from exc
    finally:
        loader.dispose()


def load_all(text: str | bytes) -> Iterator[Any]:
    """Every document of ``text``, empty ones included as ``None``."""
    loader = _loader(text)
    try:
        while loader.check_data():
            yield loader.get_data()
    except RecursionError as exc:
        raise NestingError("the document is nested too deeply") from exc
    finally:
        loader.dispose()


def compose(text: str) -> yaml.Node | None:
    """The node tree of the one document of ``text`` (for line numbers)."""
    try:
        return yaml.compose(text, Loader=Loader)
    except RecursionError as exc:
        raise NestingError("the document is nested too deeply") from exc


def nodes(text: str) -> Iterator[tuple[yaml.Node, Any]]:
    """Each non-empty document of ``text`` as its node tree and its value (for line marks)."""
    loader = _loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                yield node, loader.construct_document(node)
    except RecursionError as exc:
        raise NestingError("the document is nested too deeply") from exc
    finally:
        loader.dispose()
