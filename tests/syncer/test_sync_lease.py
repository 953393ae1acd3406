"""A replica that loses its lease mid-pass stops before its next write."""

from __future__ import annotations

from pathlib import Path

import pytest

from csops.controlplane import AuditLog
from csops.syncer.errors import LeadershipLostError
from csops.syncer.inventory import InventoryStore
from csops.syncer.kube import Kube
from csops.syncer.objects import ObjectId
from csops.syncer.reconcile import Reconciler
from csops.syncer.source import Revision

pytestmark = pytest.mark.integration

OBJECTS = """\
apiVersion: v1
kind: ConfigMap
metadata: {{name: one, namespace: {ns}}}
data: {{a: "1"}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: two, namespace: {ns}}}
data: {{b: "2"}}
"""


class Lease:
    """Leader for the first ``checks`` write checks, then lost."""

    def __init__(self, checks: int) -> None:
        self.left = checks
        self.asked = 0

    def __call__(self) -> bool:
        self.asked += 1
        self.left -= 1
        return self.left >= 0


def test_lost_lease_stops_writes_after_the_inventory_superset(
    kube: Kube, namespace: str, tmp_path: Path, audit: AuditLog
) -> None:
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "objects.yaml").write_text(OBJECTS.format(ns=namespace))
    revision = Revision("main@sha1:lease", manifests)
    store = InventoryStore(kube, "csops-lease", namespace)
    lease = Lease(checks=1)  # may record the inventory, then the lease is gone

    with audit.window() as window, pytest.raises(LeadershipLostError, match="before applying"):
        Reconciler(kube, store, may_write=lease).sync(revision)
    writes = window.writes(user="csops")
    assert [(w.resource, w.name) for w in writes] == [("secrets", "csops-lease")]
    assert lease.asked == 2
    configmaps = kube.resource("v1", "ConfigMap")
    assert kube.get_or_none(configmaps, namespace, "one") is None
    # the superset was recorded first, so a new leader can finish (or prune) safely
    members = InventoryStore(kube, "csops-lease", namespace).read().members
    assert ObjectId("", "ConfigMap", namespace, "one") in members

    # the new leader's pass completes the work
    result = Reconciler(kube, InventoryStore(kube, "csops-lease", namespace)).sync(revision)
    assert result.ok and len(result.changed) == 2


def test_lease_lost_before_anything_writes_nothing(
    kube: Kube, namespace: str, tmp_path: Path, audit: AuditLog
) -> None:
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "objects.yaml").write_text(OBJECTS.format(ns=namespace))
    store = InventoryStore(kube, "csops-lease", namespace)
    revision = Revision("main@sha1:lease", manifests)
    reconciler = Reconciler(kube, store, may_write=lambda: False)
    lost = pytest.raises(LeadershipLostError, match="before recording the inventory")
    with audit.window() as window, lost:
        reconciler.sync(revision)
    assert window.writes(user="csops") == []
