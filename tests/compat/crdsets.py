"""The two CRD sets the compatibility tests compare: csops's (optionally in a test group) and
CSO's (built from facts)."""

from __future__ import annotations

import copy
from typing import Any

from csops.renderer import crds
from tests.compat import cso_crds

API_GROUP = "clusterstack.x-k8s.io"
KINDS = {f["kind"]: f for f in cso_crds.ALL}


def csops_crd(kind: str, group: str = API_GROUP) -> dict[str, Any]:
    """csops's CRD of ``kind``, moved into ``group`` (no short names or categories there)."""
    name = {"ClusterStack": "clusterstack", "ClusterStackRelease": "clusterstackrelease"}
    crd = crds.crd(name.get(kind, "clusteraddon-resource"))
    if group != API_GROUP:
        crd = copy.deepcopy(crd)
        crd["spec"]["group"] = group
        crd["metadata"]["name"] = f"{crd['spec']['names']['plural']}.{group}"
        crd["spec"]["names"]["shortNames"] = []
        crd["spec"]["names"].pop("categories", None)
    return crd


def version_of(crd: dict[str, Any]) -> dict[str, Any]:
    """The one version of a CRD."""
    version: dict[str, Any] = crd["spec"]["versions"][0]
    return version
