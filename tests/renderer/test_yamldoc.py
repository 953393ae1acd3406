"""The strict loader: its fast paths (no alias in the text, string keys) refuse what it refused."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

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


_SCALARS = st.one_of(
    st.text(max_size=12),
    st.integers(),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False),
    st.sampled_from(["yes", "No", "on", "0o17", "017", "0x1F", "1_000", "1:20", "2026-12-02", "~"]),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(_VALUES, st.sampled_from([None, '"', "'"]))
@settings(max_examples=120, deadline=None)
def test_documents_without_anchors_load_as_pyyaml_loads_them(
    value: object, style: str | None
) -> None:
    text = yaml.safe_dump({"v": value, "k": [value]}, default_style=style)
    assert yamldoc.load(text) == yaml.safe_load(text)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a:\n  x: 1\n  y: 2\n  x: 3\n", 2),
        ("- {k: 1}\n- {k: 2, j: 0, k: 3}\n", 2),
        ("top: 1\nsub: {a: [1, {b: 1, b: 2}]}\n", 2),
    ],
)
def test_a_nested_key_written_twice_is_refused_naming_the_first(text: str, line: int) -> None:
    with pytest.raises(yamldoc.DuplicateKeyError, match=f"first at line {line}"):
        yamldoc.load(text)


def test_merge_keys_and_other_keys_without_anchors_load_as_pyyaml_loads_them() -> None:
    for text in ("m:\n  <<: {x: 1, y: 2}\n  y: 3\n", "2: a\ntrue: b\n~: c\n", "d: !!set {a, b}\n"):
        assert yamldoc.load(text) == yaml.safe_load(text)


def test_remembered_tags_depend_on_how_a_scalar_is_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A plain ``1`` is an int and a quoted one a string, however often each was seen, and
    forgetting (the memory full) changes no value."""
    monkeypatch.setattr(yamldoc, "RESOLVED_KEEP", 3)
    text = "a: 1\nb: '1'\nc: true\nd: 'true'\ne: 2026-12-02\nf: null\n"
    for _ in range(3):
        assert yamldoc.load(text) == yaml.safe_load(text)
    assert len(yamldoc._RESOLVED) <= 3


def test_long_and_quoted_scalars_are_not_remembered() -> None:
    long = "x" * (yamldoc.RESOLVED_LONGEST + 1)
    assert yamldoc.load(f"k: {long}\nq: 'short quoted'\n") == {"k": long, "q": "short quoted"}
    remembered = {value for value, _ in yamldoc._RESOLVED}
    assert long not in remembered and "short quoted" not in remembered
    assert "k" in remembered


def test_the_loader_has_no_path_resolvers() -> None:
    """Tags are remembered by text alone, which holds only without path resolvers."""
    assert not yamldoc.Loader.yaml_path_resolvers
