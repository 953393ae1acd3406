"""csops's CRDs accept every object CSO's accept, on the real API server.

CSO's CRDs are built from facts (:mod:`tests.compat.cso_crds`) and installed next to csops's,
each set under its own test group so no admission policy of csops applies to either. Every
example object (the committed example tree, statuses as the syncer writes them, statuses as
CSO writes them, and the cases where csops's CRDs used to differ) goes to both sets and must
get the same answer.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from csops.controlplane.crds import install_crds
from csops.syncer.controller import sync_once
from csops.syncer.errors import ApiError
from csops.syncer.kube import Kube
from csops.syncer.settings import Settings
from tests.compat import cso_crds
from tests.compat.crdsets import API_GROUP, KINDS, csops_crd
from tests.syncer.conftest import StacksRepo

pytestmark = pytest.mark.integration

CSOPS_GROUP = "csops.compat.csops.test"
EXAMPLES = Path(__file__).resolve().parents[2] / "stacks" / "rendered" / "manifests"
TIME = "2026-01-02T03:04:05Z"
# fields csops adds to CSO's schema; server-side apply refuses them where CSO's CRD is installed
ADDITIONS = ("revision", "lastSyncTime", "keptInUse", "drift")


def _condition(ctype: str, ok: bool) -> dict[str, Any]:
    cond = {"type": ctype, "status": "True" if ok else "False", "lastTransitionTime": TIME}
    if not ok:
        cond.update(severity="Info", reason="ProcessOngoing", message="waiting")
    return cond


def _cso_written() -> list[dict[str, Any]]:
    """Objects with the statuses CSO writes (research/scs.md §5)."""
    stack = {
        "kind": "ClusterStack",
        "metadata": {"name": "docker-ferrol-1-27"},
        "spec": {
            "provider": "docker",
            "name": "ferrol",
            "kubernetesVersion": "1.27",
            "versions": ["v1", "v0-sha.hipstsw"],
            "providerRef": {
                "apiVersion": "infrastructure.clusterstack.x-k8s.io/v1alpha1",
                "kind": "DockerClusterStackReleaseTemplate",
                "name": "template",
            },
        },
        "status": {
            "latestRelease": "docker-ferrol-1-27-v2 | v1.27.3",
            "usableVersions": "v1, v2",
            "summary": [
                {"name": "v1", "ready": True, "phase": "done"},
                {"name": "v2", "ready": False, "phase": "", "message": "downloading"},
            ],
            "conditions": [_condition("ReleasesSynced", True), _condition("Ready", False)],
        },
    }
    release = {
        "kind": "ClusterStackRelease",
        "metadata": {"name": "docker-ferrol-1-27-v2"},
        "spec": {
            "providerRef": {
                "apiVersion": "infrastructure.clusterstack.x-k8s.io/v1alpha1",
                "kind": "DockerClusterStackRelease",
                "name": "docker-ferrol-1-27-v2",
            }
        },
        "status": {
            "kubernetesVersion": "v1.27.3",
            "ready": False,
            "resources": [
                {
                    "group": "cluster.x-k8s.io",
                    "version": "v1beta1",
                    "kind": "ClusterClass",
                    "namespace": "cluster",
                    "name": "docker-ferrol-1-27-v2",
                    "status": "not-synced",
                    "error": "boom",
                }
            ],
            "conditions": [_condition("HelmChartApplied", False)],
        },
    }
    addon = {
        "kind": "ClusterAddon",
        "metadata": {"name": "cluster-addon-my-cluster"},
        "spec": {
            "clusterStack": "docker-ferrol-1-27-v2",
            "version": "v2",
            "hook": "BeforeClusterUpgrade",
            "clusterRef": {
                "apiVersion": "cluster.x-k8s.io/v1beta1",
                "kind": "Cluster",
                "name": "my-cluster",
                "namespace": "cluster",
            },
        },
        "status": {
            "ready": True,
            "stages": [{"name": "cni", "action": "apply", "phase": "done"}],
            "resources": [],
            "conditions": [_condition("HelmChartApplied", True)],
        },
    }
    return [stack, release, addon]


def _formerly_refused() -> list[dict[str, Any]]:
    """Objects CSO's CRDs accept that csops's CRDs used to refuse."""
    return [
        {
            "kind": "ClusterStack",
            "metadata": {"name": "odd-versions"},
            "spec": {
                "provider": "docker",
                "name": "odd",
                "kubernetesVersion": "1.27",
                "versions": ["latest", "v1.2"],
            },
        },
        {"kind": "ClusterStackRelease", "metadata": {"name": "no-spec"}},
        {
            "kind": "ClusterAddon",
            "metadata": {"name": "no-status-ready"},
            "spec": {"clusterRef": {"kind": "Cluster", "name": "c"}},
            "status": {"stages": []},
        },
    ]


def _refused_by_both() -> list[dict[str, Any]]:
    """Objects CSO's CRDs refuse: csops's must refuse them too (the check can fail)."""
    return [
        {
            "kind": "ClusterStack",
            "metadata": {"name": "patch-minor"},
            "spec": {"provider": "docker", "name": "x", "kubernetesVersion": "1.27.3"},
        },
        {
            "kind": "ClusterStack",
            "metadata": {"name": "beta-channel"},
            "spec": {
                "provider": "docker",
                "name": "x",
                "kubernetesVersion": "1.27",
                "channel": "beta",
            },
        },
        {"kind": "ClusterAddon", "metadata": {"name": "no-cluster-ref"}, "spec": {"hook": ""}},
        {
            "kind": "ClusterStackRelease",
            "metadata": {"name": "no-transition-time"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        },
        {
            "kind": "ClusterStack",
            "metadata": {"name": "summary-without-phase"},
            "spec": {"provider": "docker", "name": "x", "kubernetesVersion": "1.27"},
            "status": {"summary": [{"name": "v1", "ready": True}]},
        },
    ]


def _synced_examples(kube: Kube, repo: StacksRepo, config: Settings) -> list[dict[str, Any]]:
    """The example tree's objects, each with the status ``csops sync`` wrote for it."""
    result = sync_once(config, kube)
    assert result.ok, result.state()
    out = []
    for path in sorted(EXAMPLES.rglob("*.yaml")):
        obj = yaml.safe_load(path.read_text())
        if obj.get("apiVersion", "").split("/")[0] != API_GROUP:
            continue
        live = kube.get(
            kube.resource(obj["apiVersion"], obj["kind"]), repo.namespace, obj["metadata"]["name"]
        )
        assert live.get("status"), f"no status on {path.name}"
        out.append({**obj, "status": live["status"]})
    assert {o["kind"] for o in out} == {"ClusterStack", "ClusterStackRelease"}
    return out


class _Both:
    """Create an object in both CRD sets and say whether each accepted it (status included)."""

    def __init__(self, kube: Kube, namespace: str) -> None:
        self.kube = kube
        self.namespace = namespace

    def _one(self, group: str, obj: dict[str, Any]) -> str:
        body = copy.deepcopy(obj)
        body["apiVersion"] = f"{group}/v1alpha1"
        body["metadata"] = {"name": obj["metadata"]["name"], "namespace": self.namespace}
        status = body.pop("status", None)
        if status is not None and group == cso_crds.GROUP:
            status = {k: v for k, v in status.items() if k not in ADDITIONS}
        resource = self.kube.resource(body["apiVersion"], body["kind"])
        try:
            self.kube.create(resource, body)
            if status is not None:
                self.kube.apply_status(resource, {**body, "status": status})
        except ApiError as exc:
            return f"refused: {exc}"
        finally:
            self.kube.delete(resource, self.namespace, body["metadata"]["name"])
        return "accepted"

    def answers(self, obj: dict[str, Any]) -> tuple[str, str]:
        return self._one(cso_crds.GROUP, obj), self._one(CSOPS_GROUP, obj)


@pytest.fixture
def both(kube: Kube, api_client: Any, namespace: str) -> _Both:
    documents = [cso_crds.crd(f) for f in cso_crds.ALL] + [csops_crd(k, CSOPS_GROUP) for k in KINDS]
    install_crds(api_client, documents)
    return _Both(kube, namespace)


def test_every_example_object_validates_against_both_crd_sets(
    both: _Both, kube: Kube, stacks_repo: StacksRepo, sync_config: Settings
) -> None:
    examples = (
        _synced_examples(kube, stacks_repo, sync_config) + _cso_written() + _formerly_refused()
    )
    for obj in examples:
        cso, ours = both.answers(obj)
        assert (cso, ours) == ("accepted", "accepted"), (
            obj["kind"],
            obj["metadata"]["name"],
            cso,
            ours,
        )
    for obj in _refused_by_both():
        cso, ours = both.answers(obj)
        assert cso.startswith("refused") and ours.startswith("refused"), (
            obj["metadata"]["name"],
            cso,
            ours,
        )
