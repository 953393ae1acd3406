"""A replica that lost the Lease stops before writing into a (real) workload cluster."""

from __future__ import annotations

import pytest

from csops.syncer.addons.stages import workload_engine
from csops.syncer.errors import LeadershipLostError
from csops.syncer.kube import Kube

pytestmark = pytest.mark.integration

CONFIGMAP = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "leader-only", "namespace": "default"},
    "data": {"a": "b"},
}


def test_workload_writes_nothing_once_leadership_is_lost(workload: Kube) -> None:
    resource = workload.resource("v1", "ConfigMap")
    follower = workload_engine(workload, may_write=lambda: False)
    leader = workload_engine(workload, may_write=lambda: True)
    with pytest.raises(LeadershipLostError):
        follower.apply([CONFIGMAP])
    assert workload.get_or_none(resource, "default", "leader-only") is None
    leader.apply([CONFIGMAP])
    with pytest.raises(LeadershipLostError):
        follower.delete(leader.identify([CONFIGMAP]))
    assert workload.get_or_none(resource, "default", "leader-only") is not None
    leader.delete(leader.identify([CONFIGMAP]))
