"""The strict loader: its fast paths (no alias in the text, string keys) refuse what it refused."""

from __future__ import annotations

import pytest
import yaml

from csops import yamldoc

pytestmark = pytest.mark.unit

BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(6)
)


def test_a_text_without_anchors_loads_as_pyyaml_loads_it() -> None:
    text = "a: '*not an alias*'\nb: [1, 2.5, true, null]\n'1': x\n1: y\n"
    assert yamldoc.load(text) == yaml.safe_load(text)
    assert yamldoc.load(text.encode()) == yaml.safe_load(text)
    assert [value for _, value in yamldoc.nodes(text)] == [yaml.safe_load(text)]


def test_an_alias_bomb_is_refused_as_text_and_as_bytes() -> None:
    for text in (BOMB, BOMB.encode()):
        with pytest.raises(yamldoc.AliasBombError):
            yamldoc.load(text)
        with pytest.raises(yamldoc.AliasBombError):
            list(yamldoc.load_all(text))
        with pytest.raises(yamldoc.AliasBombError):
            list(yamldoc.nodes(text))


def test_aliases_within_the_limit_expand() -> None:
    assert yamldoc.load("a: &x {k: v}\nb: *x\n") == {"a": {"k": "v"}, "b": {"k": "v"}}


@pytest.mark.parametrize(
    "text",
    ["name: a\nname: b\n", "1: a\n0x1: b\n", "? [a]\n: 1\nk: 2\nk: 3\n", "'k': 1\nk: 2\n"],
)
def test_a_key_written_twice_is_refused(text: str) -> None:
    with pytest.raises(yamldoc.DuplicateKeyError):
        yamldoc.load(text)


def test_merge_keys_still_merge_and_an_explicit_key_wins() -> None:
    text = "base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n"
    assert yamldoc.load(text)["use"] == {"x": 1, "y": 3}
