"""What Cluster API's ClusterClass webhook would refuse, found by ``csops.renderer.classrules``.

The same bad classes go to the real API server in ``test_classrules_webhook.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from csops.renderer import classrules
from csops.renderer.templatesyntax import parse_error
from tests.capi.classcases import CASES, GOOD_CLASS, Case, bad_class, good_class

pytestmark = pytest.mark.unit

CLASSES = sorted(GOOD_CLASS.parent.glob("*.yaml"))


@pytest.mark.parametrize("path", CLASSES, ids=lambda p: p.stem)
def test_example_classes_pass(path: Path) -> None:
    import yaml

    assert classrules.check([yaml.safe_load(path.read_text())], str(path)) == []


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_class_is_reported_at_its_field(case: Case) -> None:
    problems = classrules.check([bad_class(case)], "chart")
    assert problems, f"{case.id}: nothing reported"
    assert case.field in {p.field for p in problems}, [str(p) for p in problems]
    assert all(
        p.file == "chart" and "ClusterClass docker-alder-1-29-v1" in p.message for p in problems
    )


def test_v1beta2_class_is_read_too() -> None:
    obj = good_class()
    obj["apiVersion"] = "cluster.x-k8s.io/v1beta2"
    spec = obj["spec"]
    spec["infrastructure"] = {"templateRef": spec["infrastructure"]["ref"]}
    control_plane = spec["controlPlane"]
    spec["controlPlane"] = {
        "templateRef": control_plane["ref"],
        "machineInfrastructure": {"templateRef": control_plane["machineInfrastructure"]["ref"]},
    }
    md = spec["workers"]["machineDeployments"][0]
    md["bootstrap"] = {"templateRef": md["template"]["bootstrap"]["ref"]}
    md["infrastructure"] = {"templateRef": md["template"]["infrastructure"]["ref"]}
    del md["template"]
    assert classrules.check([obj], "chart") == []
    md["infrastructure"]["templateRef"]["kind"] = "DockerMachine"
    fields = {p.field for p in classrules.check([obj], "chart")}
    assert fields == {
        "spec.workers.machineDeployments[0].infrastructure.templateRef.kind",
        # the worker image patch selects a DockerMachineTemplate, which is gone now
        "spec.patches[3].definitions[0].selector.matchResources.machineDeploymentClass.names[0]",
    }


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('{{ ne .imageRepository "" }}', None),
        ("- a\n{{- range .certSANs }}\n- {{ . }}\n{{- end }}\n", None),
        ("{{ $x := .a }}{{ if $x }}{{ $x | quote }}{{ else if .b }}b{{ else }}c{{ end }}", None),
        ("{{ range $i, $v := .l }}{{ $i }}{{ break }}{{ end }}{{/* note */}}", None),
        ('{{ printf "%s-%d" (index .a 0) 3 | upper }}{{- 3 -}}', None),
        ("{{ if .a }}", "unexpected EOF"),
        ("{{ end }}", "unexpected {{end}}"),
        ("{{ .a", "unclosed action"),
        ("{{/* a }}", "unclosed comment"),
        ('{{ "a }}', "unterminated quoted string"),
        ("{{ if }}x{{ end }}", "missing value for if"),
        ("{{ (len .a }}", "unclosed left paren"),
        ("{{ len .a) }}", "unexpected right paren"),
        ("{{ $y }}", 'undefined variable "$y"'),
        ("{{ if .a }}{{ else }}{{ else }}{{ end }}", "unexpected {{else}}"),
        ("{{ continue }}", "outside {{range}}"),
        ("{{ include .a }}", 'function "include" not defined'),
        ("{{ env .a }}", 'function "env" not defined'),
        ("{{ nosuchfunction }}", 'function "nosuchfunction" not defined'),
        ("{{ .a | }}", "missing value"),
        ("{{ # }}", "unrecognized character"),
    ],
)
def test_go_template_parse(text: str, error: str | None) -> None:
    found = parse_error(text)
    if error is None:
        assert found is None
    else:
        assert found is not None and error in found
