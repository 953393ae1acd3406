"""The Helm chart ``deploy/helm/csops`` renders, through the Helm engine csops uses, to the
objects of the kustomize base ``deploy/kubernetes``: the same kinds, names, rules and specs."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from csops import __version__
from csops.renderer import helm
from tests.packaging.conftest import REPO_ROOT, granted, kustomize

pytestmark = pytest.mark.integration

CHART = REPO_ROOT / "deploy" / "helm" / "csops"
NAMESPACE = "csops-system"


def render(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    files = helm.render_chart(
        CHART, release_name="csops", namespace=NAMESPACE, kube_version="v1.36.3", values=values
    )
    return [doc for f in files for doc in yaml.safe_load_all(f.text) if doc]


def key(obj: dict[str, Any]) -> tuple[str, str, str]:
    meta = obj["metadata"]
    return (obj["kind"], meta["name"], meta.get("namespace", ""))


def without_labels(obj: dict[str, Any]) -> dict[str, Any]:
    bare = copy.deepcopy(obj)
    bare["metadata"].pop("labels", None)
    return bare


def test_the_chart_renders_the_objects_of_the_kustomize_base() -> None:
    base = {key(o): o for o in kustomize()}
    chart = {key(o): o for o in render({"namespace": {"create": True}})}
    assert sorted(chart) == sorted(base)
    for name, obj in base.items():
        # Everything equal but the labels, where the chart adds Helm's own.
        assert without_labels(chart[name]) == without_labels(obj), name
        labels = chart[name]["metadata"].get("labels") or {}
        assert (obj["metadata"].get("labels") or {}).items() <= labels.items(), name
    assert granted(list(chart.values())) == granted(list(base.values()))


def test_by_default_helm_creates_the_namespace_not_the_chart() -> None:
    kinds = {o["kind"] for o in render()}
    assert "Namespace" not in kinds
    assert {"ServiceAccount", "ClusterRole", "Role", "Deployment", "Service"} <= kinds


def test_values_reach_the_deployment_and_the_service_monitor() -> None:
    objects = render(
        {
            "git": {
                "url": "ssh://git@git.example.org/p/stacks.git",
                "path": "out/manifests",
                "secretName": "stacks-deploy-key",
            },
            "image": {"repository": "registry.example.org/csops", "tag": "1.2.3"},
            "replicas": 3,
            "extraArgs": ["--interval=30"],
            "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
        }
    )
    by_kind = {o["kind"]: o for o in objects}
    deployment = by_kind["Deployment"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert deployment["spec"]["replicas"] == 3
    assert container["image"] == "registry.example.org/csops:1.2.3"
    assert container["args"][:6] == [
        "sync",
        "ssh://git@git.example.org/p/stacks.git",
        "--branch=main",
        "--path=out/manifests",
        "--git-secret=stacks-deploy-key",
        "--inventory-namespace=csops-system",
    ]
    assert container["args"][-1] == "--interval=30"
    monitor = by_kind["ServiceMonitor"]
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    service_labels = by_kind["Service"]["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service_labels.items()
    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s"}]


def test_without_credential_secrets_nothing_refers_to_them() -> None:
    objects = render({"webhookSecret": ""})
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    text = yaml.safe_dump(deployment)
    assert "secretKeyRef" not in text and "--git-secret" not in text
    assert [v["name"] for v in deployment["spec"]["template"]["spec"]["volumes"]] == [
        "cache",
        "tmp",
    ]


def test_chart_and_base_deploy_this_version_of_csops() -> None:
    metadata = helm.chart_metadata(CHART)
    assert metadata["appVersion"] == __version__
    kustomization = yaml.safe_load((REPO_ROOT / "deploy/kubernetes/kustomization.yaml").read_text())
    assert kustomization["images"] == [{"name": "csops", "newTag": __version__}]
