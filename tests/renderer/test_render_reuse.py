"""Objects reused from the rendered tree: one whose owners changed is re-annotated while the
others pass through as they are (a render once crashed here: "dictionary changed size during
iteration", seen in the seed flow on real Cluster API)."""

from __future__ import annotations

import pytest
import yaml

from csops.renderer.assembly import Assembler

pytestmark = pytest.mark.unit


def _config_map(name: str) -> bytes:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: ns\n".encode()


def test_reused_object_with_new_owners_is_rewritten_among_unchanged_ones() -> None:
    previous = {"ns/configmap/a.yaml": {"r1"}, "ns/configmap/b.yaml": {"r1"}}
    assembler = Assembler(previous_owners=previous)
    assembler.add_reused("ns/configmap/a.yaml", _config_map("a"), "release r1", "r1")
    assembler.add_reused("ns/configmap/a.yaml", _config_map("a"), "release r2", "r2")
    assembler.add_reused("ns/configmap/b.yaml", _config_map("b"), "release r1", "r1")
    files = assembler.files()
    assert set(files) == {"manifests/ns/configmap/a.yaml", "manifests/ns/configmap/b.yaml"}
    assert files["manifests/ns/configmap/b.yaml"] == _config_map("b"), "passed through"
    rewritten = yaml.safe_load(files["manifests/ns/configmap/a.yaml"])
    assert rewritten["metadata"]["annotations"]["csops.io/releases"] == "r1,r2"
