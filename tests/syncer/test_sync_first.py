"""First sync of the example stacks, and a second pass that makes zero writes."""

from __future__ import annotations

import time
from typing import Any

import pytest

from csops.controlplane import AuditLog
from csops.syncer.controller import sync_once
from csops.syncer.inventory import PART_OF_LABEL
from csops.syncer.kube import Kube
from csops.syncer.settings import Settings
from tests.syncer.conftest import StacksRepo

pytestmark = pytest.mark.integration

GROUP = "clusterstack.x-k8s.io/v1alpha1"


def _get(kube: Kube, api_version: str, kind: str, ns: str, name: str) -> dict[str, Any]:
    return kube.get(kube.resource(api_version, kind), ns, name)


def test_first_sync_applies_everything_and_writes_status(
    kube: Kube, stacks_repo: StacksRepo, sync_config: Settings
) -> None:
    started = time.monotonic()
    result = sync_once(sync_config, kube)
    elapsed = time.monotonic() - started
    assert result.ok, result.state()
    assert len(result.changed) == len(result.outcomes) > 25
    ns = stacks_repo.namespace
    cc = _get(kube, "cluster.x-k8s.io/v1beta1", "ClusterClass", ns, "docker-alder-1-29-v1")
    assert cc["metadata"]["labels"][PART_OF_LABEL].startswith("applyset-")
    stack = _get(kube, GROUP, "ClusterStack", ns, "docker-alder-1-29")
    assert stack["status"]["usableVersions"] == "v1"
    assert stack["status"]["latestRelease"].startswith("docker-alder-1-29-v1")
    assert stack["status"]["revision"].startswith("main@sha1:")
    assert {c["type"]: c["status"] for c in stack["status"]["conditions"]}["Ready"] == "True"
    csr = _get(kube, GROUP, "ClusterStackRelease", ns, "docker-alder-1-29-v1")
    assert csr["status"]["ready"] is True
    assert csr["status"]["kubernetesVersion"] == "v1.29.4"
    kinds = {r["kind"] for r in csr["status"]["resources"]}
    assert {"ClusterClass", "DockerMachineTemplate", "KubeadmControlPlaneTemplate"} <= kinds
    assert all(r["status"] == "synced" for r in csr["status"]["resources"])
    print(f"first sync of the example stacks: {elapsed:.2f}s, {len(result.outcomes)} objects")


def test_second_sync_is_a_noop_with_zero_writes(
    kube: Kube, stacks_repo: StacksRepo, sync_config: Settings, audit: AuditLog
) -> None:
    assert sync_once(sync_config, kube).ok
    with audit.window() as window:
        started = time.monotonic()
        result = sync_once(sync_config, kube)
        elapsed = time.monotonic() - started
    assert result.ok and not result.changed and not result.pruned
    assert window.writes(user="csops") == []
    reads = len(window.requests(user="csops"))
    print(f"no-op pass: {elapsed:.2f}s, {reads} read requests, 0 writes")
