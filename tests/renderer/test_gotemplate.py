"""Reading Go template source: field chains rewritten for CSO's missing-key rule, function names
found, and everything else left byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from csops.renderer import render_repo
from csops.renderer.gotemplate import CSO_FUNCTIONS, functions, with_cso_missing_keys

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ .a.b }}", '{{ (dig "a" "b" nil .) }}'),
        ("{{ .a }} {{ $x.a }} {{ $ }}", "{{ .a }} {{ $x.a }} {{ $ }}"),
        ("{{- $.A.b.c -}}", '{{- (dig "A" "b" "c" nil $) -}}'),
        ("{{ $v.value.x | quote }}", '{{ (dig "value" "x" nil $v) | quote }}'),
        ("{{ (index .l.m 0).n.o }}", '{{ (dig "n" "o" nil (index (dig "l" "m" nil .) 0)) }}'),
        ('{{ printf ".a.b %s" `.c.d` 1.5 .x }}', '{{ printf ".a.b %s" `.c.d` 1.5 .x }}'),
        ("{{/* .a.b */}}text .a.b {{ .a . }}", "{{/* .a.b */}}text .a.b {{ .a . }}"),
        ("{{ .a .b.c }}", '{{ .a (dig "b" "c" nil .) }}'),
        ("line\n{{ if .a.b }}\n{{ end }}", 'line\n{{ if (dig "a" "b" nil .) }}\n{{ end }}'),
    ],
)
def test_field_chains_become_dig(source: str, expected: str) -> None:
    assert with_cso_missing_keys(source) == expected


def test_functions_and_their_lines() -> None:
    text = '{{ define "x" }}{{ toYaml .a | nindent 2 }}{{ end }}\n{{ if eq .a "if" }}{{ end }}'
    assert functions(text) == [("toYaml", 1), ("nindent", 1), ("eq", 2)]
    assert {"nindent", "eq", "dig", "printf", "env"} <= CSO_FUNCTIONS
    assert not {"toYaml", "include", "tpl", "required", "lookup"} & CSO_FUNCTIONS


def test_helm_only_function_in_a_values_file_is_reported(stacks_repo: Path) -> None:
    """``toYaml`` works in Helm's engine but not in CSO's; csops renders and warns."""
    values = stacks_repo / "providers/docker/alder/1-29/cluster-addon-values.yaml"
    values.write_text(values.read_text() + "  labels: {{ toYaml .Cluster.metadata.labels }}\n")
    result = render_repo(stacks_repo)
    found = [w for w in result.warnings if "'toYaml'" in w.message]
    assert len(found) == 1, result.warnings
    assert found[0].file == "providers/docker/alder/1-29/cluster-addon-values.yaml"
    assert found[0].line == values.read_text().count("\n")
    assert "Cluster Stack Operator would fail" in found[0].message
