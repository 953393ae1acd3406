"""A real SCS stack (docker/scs: csctl.yaml, clusteraddon.yaml and the cluster-class chart,
copied unchanged from SovereignCloudStack/cluster-stacks) renders as the operator would."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from csops.renderer import render_repo, write

pytestmark = pytest.mark.integration

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "scs" / "cluster-stacks-docker-scs"


def _stacks_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    source = repo / "providers" / "docker" / "scs"
    shutil.copytree(FIXTURE, source)
    # The fixture has no cluster-addon/ (upstream vendors binary charts there); stand-in
    # charts with the stage names let the unchanged clusteraddon.yaml validate.
    for addon in ("cni", "metrics-server"):
        chart = source / "cluster-addon" / addon
        (chart / "templates").mkdir(parents=True)
        (chart / "Chart.yaml").write_text(f"apiVersion: v2\nname: {addon}\nversion: v1\n")
        (chart / "templates" / "cm.yaml").write_text(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {addon}\n"
        )
    (repo / "clusterstacks").mkdir()
    (repo / "clusterstacks" / "docker-scs-1-30.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "clusterstack.x-k8s.io/v1alpha1",
                "kind": "ClusterStack",
                "metadata": {"name": "docker-scs-1-30", "namespace": "cluster"},
                "spec": {
                    "provider": "docker",
                    "name": "scs",
                    "kubernetesVersion": "1.30",
                    "channel": "stable",
                    "autoSubscribe": True,
                    "noProvider": True,
                },
            }
        )
    )
    return repo


def test_real_scs_stack_renders_as_cso_would(tmp_path: Path) -> None:
    repo = _stacks_repo(tmp_path)
    result = render_repo(repo)
    write(result)
    assert result.new_releases == ["docker-scs-1-30-v1"]
    classes = repo / "rendered/manifests/cluster/clusterclass.cluster.x-k8s.io"
    cc = yaml.safe_load((classes / "docker-scs-1-30-v1.yaml").read_text())
    refs = {
        cc["spec"]["infrastructure"]["ref"]["name"],
        cc["spec"]["controlPlane"]["ref"]["name"],
        cc["spec"]["controlPlane"]["machineInfrastructure"]["ref"]["name"],
    }
    assert refs == {
        "docker-scs-1-30-v1-cluster",
        "docker-scs-1-30-v1-control-plane",
        "docker-scs-1-30-v1-machinetemplate-docker",
    }
    metadata = yaml.safe_load(
        (repo / "rendered/releases/docker-scs-1-30-v1/metadata.yaml").read_text()
    )
    assert metadata["versions"]["kubernetes"] == "v1.30.10"


def test_upstream_escaping_bug_is_reported(tmp_path: Path) -> None:
    """The docker/scs chart leaves ``enabledIf`` unescaped; Helm turns it into 'true'."""
    repo = _stacks_repo(tmp_path)
    result = render_repo(repo)
    write(result)
    warnings = [str(w) for w in result.warnings]
    assert any(
        "cluster-class/templates/cluster-class.yaml:53" in w and "imageRepository" in w
        for w in warnings
    ), warnings
    cc = yaml.safe_load(
        (
            repo
            / "rendered/manifests/cluster/clusterclass.cluster.x-k8s.io/docker-scs-1-30-v1.yaml"
        ).read_text()
    )
    enabled = {p["name"]: p.get("enabledIf") for p in cc["spec"]["patches"]}
    assert "true" in enabled.values()
