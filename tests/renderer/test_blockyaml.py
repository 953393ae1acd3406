"""The fast emitter writes PyYAML's bytes, or says it cannot and PyYAML writes them."""

from __future__ import annotations

import random
from typing import Any

import pytest

from csops.renderer import blockyaml, documents

pytestmark = pytest.mark.unit

# Characters and words that steer libyaml's choice of style: indicators, blanks, breaks,
# words the resolver reads as other types, document markers, a tab and a non-ASCII letter.
_PIECES = [
    *"abcXYZ019 -_:#'\"/.,[]{}&*!|>%@`?~=\n\t",
    "true", "null", "1.5", "0x1F", "---", "...", "yes", "~", "2001-12-14", "<<", "1e3",
    "0o17", ".inf", "é", "\n\n",
]  # fmt: skip


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 6)))


def _value(rng: random.Random, depth: int) -> Any:
    kind = rng.randint(0, 9 if depth < 4 else 5)
    if kind <= 3:
        return _text(rng)
    if kind == 4:
        return rng.choice([True, False, None, 0, -5, 12345678901234])
    if kind == 5:
        return rng.choice([{}, [], "", 1.5])
    if kind in (6, 7):
        return {_text(rng) or "k": _value(rng, depth + 1) for _ in range(rng.randint(0, 4))}
    return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]


def test_random_documents_give_pyyaml_bytes_or_a_refusal() -> None:
    rng = random.Random(15)
    fast = 0
    for _ in range(4000):
        doc = {_text(rng) or "k": _value(rng, 0) for _ in range(rng.randint(1, 5))}
        try:
            got = blockyaml.dump(doc)
        except blockyaml.Unsupported:
            continue
        fast += 1
        assert got == documents.pyyaml_dump(doc), repr(doc)
    assert fast > 500  # the fast path is the common one, not a rare one


def test_kubernetes_object_shapes() -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "x", "labels": {"a": "true", "b": ""}, "annotations": {}},
        "data": {"script": "#!/bin/sh\necho hi\n\nexit 0", "conf": "k: v\n", "n": "0755"},
        "spec": {"list": [{"name": "a", "args": ["-x", "--y=1", "- z"]}, [1, [2]], [], {}]},
        "flags": [True, False, None, 3],
    }
    assert blockyaml.dump(obj) == documents.pyyaml_dump(obj)
    assert documents.dump(obj) == documents.pyyaml_dump(obj)


@pytest.mark.parametrize(
    "doc",
    [
        {"f": 1.5},
        {"s": "é"},
        {"s": "tab\there"},
        {"s": " leading\nspace"},
        {"s": "keep\n\n"},
        {"k" * 200: 1},
        {"multi\nline": 1},
    ],
)
def test_unsupported_shapes_fall_back_to_pyyaml(doc: dict[str, Any]) -> None:
    with pytest.raises(blockyaml.Unsupported):
        blockyaml.dump(doc)
    assert documents.dump(doc) == documents.pyyaml_dump(doc)


def test_a_shared_sub_object_falls_back_so_pyyaml_anchors_it() -> None:
    shared = {"a": 1}
    doc = {"x": shared, "y": shared}
    with pytest.raises(blockyaml.Unsupported):
        blockyaml.dump(doc)
    assert b"&id001" in documents.dump(doc)
