"""Fast paths that must not change a result: the lock's JSON and the schema pre-check."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csops.renderer import lock, schemas

pytestmark = pytest.mark.unit

_JSON = st.recursive(
    st.one_of(
        st.text(max_size=8), st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False)
    ),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=25,
)


@given(st.dictionaries(st.text(max_size=6), _JSON, max_size=5))
@settings(max_examples=200, deadline=None)
def test_the_lock_is_written_as_json_dumps_writes_it(data: dict[str, Any]) -> None:
    assert lock.dump(data) == (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


def _reference(name: str, document: Any) -> list[str]:
    validator = jsonschema.validators.validator_for(schemas.load(name))(schemas.load(name))
    return sorted(e.message for e in validator.iter_errors(document))


_METADATA = {
    "apiVersion": "metadata.clusterstack.x-k8s.io/v1alpha1",
    "versions": {
        "clusterStack": "v1",
        "kubernetes": "v1.29.4",
        "components": {"clusterAddon": "v1", "nodeImage": "v1"},
    },
}
_LOCK = {"lockVersion": 1, "generator": {"name": "csops"}, "releases": {}, "files": {}}


@pytest.mark.parametrize(
    ("name", "document"),
    [
        ("metadata", _METADATA),
        (
            "metadata",
            {**_METADATA, "versions": {**_METADATA["versions"], "kubernetes": "v1.29.4\n"}},
        ),
        ("metadata", {**_METADATA, "versions": {**_METADATA["versions"], "kubernetes": 1.29}}),
        ("metadata", {**_METADATA, "versions": "v1"}),
        ("render-lock", _LOCK),
        ("render-lock", {**_LOCK, "lockVersion": True}),
        ("render-lock", {**_LOCK, "lockVersion": 1.0}),
        ("render-lock", {**_LOCK, "generator": {"name": "other"}}),
        ("render-lock", {**_LOCK, "releases": {"r": {"stack": "s"}}}),
        ("clusterstack", {"apiVersion": "clusterstack.x-k8s.io/v1alpha1", "when": object()}),
    ],
)
def test_the_fast_check_never_accepts_what_jsonschema_refuses(name: str, document: Any) -> None:
    found = schemas.validate(name, document, "f.yaml")
    reference = _reference(name, document)
    assert bool(found) == bool(reference)
