"""Discovery on the real API server: a kind is found in its group even when the group's
preferred version does not serve it (Docker's templates at v1beta2, OpenStack's at v1beta1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from csops.syncer.errors import NotFoundError
from csops.syncer.kube import Kube

pytestmark = pytest.mark.integration

GROUP = "infrastructure.cluster.x-k8s.io"


def test_a_kind_missing_at_the_preferred_version_is_found_at_another(
    csops_kubeconfig: Path, capi_crds: list[str]
) -> None:
    kube = Kube.from_kubeconfig(csops_kubeconfig)
    try:
        preferred = kube.resource_for_group(GROUP, "DockerMachineTemplate")
        other = kube.resource_for_group(GROUP, "OpenStackMachineTemplate")
        with pytest.raises(NotFoundError, match="NoSuchTemplate"):
            kube.resource_for_group(GROUP, "NoSuchTemplate")
    finally:
        kube.close()
    assert preferred.version == "v1beta2"
    assert (other.version, other.plural) == ("v1beta1", "openstackmachinetemplates")
