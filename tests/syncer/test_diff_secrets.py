"""``diff --cluster`` against a real API server shows no live Secret value."""

from __future__ import annotations

import base64
import json

import pytest

from csops.syncer.controller import sync_once
from csops.syncer.diff import cluster_diff
from csops.syncer.kube import Kube
from csops.syncer.settings import Settings
from tests.syncer.conftest import StacksRepo

pytestmark = pytest.mark.integration


def secret(name: str, ns: str, value: str) -> str:
    encoded = base64.b64encode(value.encode()).decode()
    return (
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {ns}\n"
        f"data:\n  password: {encoded}\n"
    )


def test_cluster_diff_masks_live_and_desired_secret_values(
    kube: Kube, stacks_repo: StacksRepo, sync_config: Settings
) -> None:
    ns = stacks_repo.namespace
    target = stacks_repo.manifests / ns / "secret"
    target.mkdir()
    (target / "changing.yaml").write_text(secret("changing", ns, "live-value"))
    (target / "leaving.yaml").write_text(secret("leaving", ns, "leaving-value"))
    stacks_repo.commit("two secrets")
    assert sync_once(sync_config, kube).ok

    (target / "changing.yaml").write_text(secret("changing", ns, "next-value"))
    (target / "leaving.yaml").unlink()
    (target / "coming.yaml").write_text(secret("coming", ns, "coming-value"))
    report = cluster_diff(
        stacks_repo.manifests,
        kube,
        name=sync_config.name,
        inventory_namespace=sync_config.inventory_namespace,
    )
    texts = {d.id.name: d.diff for d in (*report.added, *report.changed, *report.removed)}
    assert {"changing", "leaving", "coming"} <= set(texts), texts
    everything = json.dumps(texts)
    for value in ("live-value", "next-value", "leaving-value", "coming-value"):
        for form in (value, base64.b64encode(value.encode()).decode()):
            assert form not in everything
    assert "*** (before)" in texts["changing"] and "*** (after)" in texts["changing"]
