"""Values templates evaluate exactly as the Cluster Stack Operator evaluates them.

CSO runs each ``cluster-addon-values.yaml`` / ``overwrite.yaml`` through Go's
``text/template`` with slim-sprig, the dot a map of the live ``Cluster``, ``ControlPlane`` and
``InfraCluster`` (only the ones the Cluster references). csops evaluates them in Helm's engine.
``hack/gotemplate`` does what CSO does, with the slim-sprig version CSO pins; every case below
must give the same text (or fail in both).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from csops.renderer import RendererError
from csops.renderer.helm import template_values
from tests.renderer.oracles import go_build

pytestmark = pytest.mark.integration

CLUSTER: dict[str, Any] = {
    "apiVersion": "cluster.x-k8s.io/v1beta1",
    "kind": "Cluster",
    "metadata": {
        "name": "tenant-a",
        "namespace": "team-a",
        "labels": {"env": "prod", "tier": "gold"},
        "annotations": None,
        "generation": 3,
    },
    "spec": {
        "clusterNetwork": {
            "pods": {"cidrBlocks": ["10.244.0.0/16", "fd00::/48"]},
            "services": {"cidrBlocks": ["10.96.0.0/12"]},
        },
        "controlPlaneEndpoint": {"host": "198.51.100.7", "port": 6443},
        "paused": False,
        "topology": {
            "class": "openstack-oak-1-31-v2",
            "version": "v1.31.6",
            "controlPlane": {"replicas": 3},
            "variables": [
                {"name": "workload_loadbalancer", "value": "octavia-ovn"},
                {"name": "lb_flavor", "value": "c1.large"},
                {"name": "lb_image", "value": "a0b1c2"},
                {"name": "extra", "value": {"ints": [1, 2000000], "ratio": 0.25, "on": True}},
            ],
        },
    },
}
INFRA: dict[str, Any] = {
    "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
    "kind": "OpenStackCluster",
    "metadata": {"name": "tenant-a-x7", "namespace": "team-a"},
    "status": {"network": {"id": "net-1"}, "externalNetwork": {"id": "ext-9"}, "ready": True},
}
CONTROL_PLANE: dict[str, Any] = {
    "apiVersion": "controlplane.cluster.x-k8s.io/v1beta1",
    "kind": "KubeadmControlPlane",
    "metadata": {"name": "tenant-a-cp"},
    "spec": {"replicas": 3, "version": "v1.31.6"},
    "status": {"readyReplicas": 1000000, "unavailableReplicas": -1},
}
FULL = {"Cluster": CLUSTER, "ControlPlane": CONTROL_PLANE, "InfraCluster": INFRA}
CLUSTER_ONLY = {"Cluster": CLUSTER}

SCS_STYLE = """\
{{- define "lb_flavor" -}}
{{- range .Cluster.spec.topology.variables -}}
{{ if eq .name "lb_flavor" }}{{ .value }}{{ end }}
{{- end -}}
{{- end -}}
{{- define "lb_image" -}}
{{- range .Cluster.spec.topology.variables -}}
{{- if eq .name "lb_image" -}}{{ .value }}{{- end -}}
{{- end -}}
{{- end -}}
values: |
  openstack-cloud-controller-manager:
    cluster:
      name: {{ .Cluster.metadata.name }}
    endpoint: {{ printf "https://%s:%d" $.Cluster.spec.controlPlaneEndpoint.host
      .Cluster.spec.controlPlaneEndpoint.port }}
  {{- range .Cluster.spec.topology.variables }}
  {{- if eq .name "workload_loadbalancer" }}
  {{- if eq .value "octavia-ovn" }}
    lbProvider: ovn
  {{ else if eq .value "yawol" }}
  yawol-controller:
    flavor: {{ template "lb_flavor" $ }}
    image: {{ template "lb_image" $ }}
    network: {{ $.InfraCluster.status.network.id }}
  {{- end }}
  {{- end }}
  {{- end }}
"""

CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("scs-style define and template", SCS_STYLE, FULL),
    ("missing key prints <no value>", "a: {{ .Cluster.metadata.nothing }}\n", FULL),
    (
        "null value",
        'a: {{ .Cluster.metadata.annotations }} {{ hasKey .Cluster.metadata "annotations" }}',
        FULL,
    ),
    ("block", '{{ block "b" . }}default {{ .Cluster.metadata.name }}{{ end }}', FULL),
    (
        "nested ranges and variables",
        "{{ range $i, $v := .Cluster.spec.topology.variables }}"
        "{{ range $k, $w := $.Cluster.metadata.labels }}"
        "{{ $i }}-{{ $v.name }}-{{ $k }}={{ $w }};{{ end }}{{ end }}",
        FULL,
    ),
    (
        "printf %d and %v",
        '{{ printf "%d/%v/%s" .Cluster.metadata.generation'
        " .ControlPlane.status.readyReplicas .Cluster.spec.topology.version }}",
        FULL,
    ),
    (
        "int comparisons",
        "{{ if eq .Cluster.spec.topology.controlPlane.replicas 3 }}three{{ end }}"
        " {{ gt .ControlPlane.spec.replicas 1 }} {{ add .Cluster.metadata.generation 1 }}",
        FULL,
    ),
    (
        "large and negative ints",
        "{{ .ControlPlane.status.readyReplicas }} {{ .ControlPlane.status.unavailableReplicas }}",
        FULL,
    ),
    (
        "maps, lists, floats and bools",
        "{{ .Cluster.spec.controlPlaneEndpoint }}"
        " {{ (index .Cluster.spec.topology.variables 3).value }} {{ .Cluster.spec.paused }}",
        FULL,
    ),
    (
        "index and len",
        "{{ index .Cluster.spec.clusterNetwork.pods.cidrBlocks 1 }}"
        " {{ len .Cluster.spec.topology.variables }}",
        FULL,
    ),
    (
        "sprig",
        '{{ .Cluster.metadata.name | upper | quote }} {{ default "x" .Cluster.metadata.nothing }}'
        " {{ .Cluster.metadata.name | b64enc }}"
        ' {{ dig "status" "network" "id" "none" .InfraCluster }}'
        " {{ toJson .Cluster.spec.controlPlaneEndpoint }}",
        FULL,
    ),
    (
        "with and else",
        "{{ with .ControlPlane }}{{ .metadata.name }}{{ else }}none{{ end }}",
        CLUSTER_ONLY,
    ),
    ("absent ControlPlane prints <no value>", "cp: {{ .ControlPlane }}", CLUSTER_ONLY),
    (
        "chain through an absent key",
        "id: {{ .InfraCluster.status.network.id }}"
        " {{ if $.Cluster.status.phase }}y{{ else }}n{{ end }}",
        CLUSTER_ONLY,
    ),
    ("chain through a null value fails", "{{ .Cluster.metadata.annotations.team }}", FULL),
    ("field of a list fails", "{{ .Cluster.spec.topology.variables.name }}", FULL),
    ("field of a string fails", "{{ .Cluster.metadata.name.first }}", FULL),
    (
        "chains on variables and parentheses",
        '{{ range $v := .Cluster.spec.topology.variables }}{{ if eq $v.name "extra" }}'
        "{{ $v.value.ints }} {{ (index $v.value.ints 1) }} {{ $v.value.missing.deeper }}"
        "{{ end }}{{ end }} {{ (index .Cluster.spec.topology.variables 3).value.ratio }}",
        FULL,
    ),
    ("undefined template", '{{ template "nope" . }}', FULL),
    ("parse error", "a: {{ .Cluster.metadata.name", FULL),
    ("unknown function", "{{ frobnicate 1 }}", FULL),
    ("whitespace trimming", 'a:\n  {{- /* a comment */ -}}\n  b\n{{ "x" -}}\n\n  y', FULL),
    ("unicode", "name: {{ .Cluster.metadata.name }} — ümlaut", FULL),
]


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, str]]:
    binary = go_build("gotemplate", tmp_path_factory.mktemp("gotemplate"))
    request = [{"template": text, "data": data} for _, text, data in CASES]
    out = subprocess.run(
        [str(binary)], input=json.dumps(request), capture_output=True, text=True, check=True
    ).stdout
    results: list[dict[str, str]] = json.loads(out)
    return results


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_values_template_matches_cso(index: int, oracle: list[dict[str, str]]) -> None:
    _, text, data = CASES[index]
    expected = oracle[index]
    try:
        ours = template_values(text, data, display="overwrite.yaml")
    except RendererError as exc:
        assert expected.get("error"), f"csops failed ({exc}) where CSO gives {expected['output']!r}"
        return
    assert not expected.get("error"), f"CSO fails ({expected['error']}) where csops gives {ours!r}"
    assert ours == expected["output"]


def test_oracle_sees_the_real_differences(oracle: list[dict[str, str]]) -> None:
    """The cases exercise what a naive evaluation gets wrong (so the comparison can fail)."""
    by_name = {name: result for (name, _, _), result in zip(CASES, oracle, strict=True)}
    assert "<no value>" in by_name["missing key prints <no value>"]["output"]
    assert "https://198.51.100.7:6443" in by_name["scs-style define and template"]["output"]
    assert by_name["large and negative ints"]["output"] == "1000000 -1"
    assert by_name["chain through an absent key"]["output"] == "id: <no value> n"
    assert by_name["chain through a null value fails"].get("error")
    assert by_name["field of a list fails"].get("error")


def test_template_error_names_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(RendererError) as info:
        template_values(
            "a: 1\nb: {{ .Cluster.metadata.annotations.team }}\n", FULL, display="x/overwrite.yaml"
        )
    problem = info.value.problems[0]
    assert (problem.file, problem.line) == ("x/overwrite.yaml", 2)
    assert "annotations" in problem.message
