"""Where syncing stands, read from the cluster: the inventory's last pass and every ClusterStack.

What ``csops status`` prints; :func:`follow` streams each change of a ClusterStack for
``--watch``, re-opening the watch when the server ends it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from csops.syncer.errors import NotFoundError
from csops.syncer.inventory import InventoryStore
from csops.syncer.kube import Kube
from csops.syncer.objects import Resource
from csops.syncer.stackstatus import GROUP
from csops.syncer.stackview import StackView


@dataclass
class Overview:
    """The inventory's summary of the last pass and each ClusterStack's view."""

    inventory: str
    objects: int
    state: dict[str, Any]
    stacks: list[StackView] = field(default_factory=list)
    resource_version: str = ""

    @property
    def synced(self) -> bool:
        return bool(self.objects or self.state)

    def to_dict(self) -> dict[str, Any]:
        state = self.state
        return {
            "inventory": self.inventory,
            "objects": self.objects,
            "revision": state.get("revision"),
            "ok": state.get("ok"),
            "failed": state.get("failed") or {},
            "keptInUse": state.get("keptInUse") or {},
            "pruneBlocked": state.get("pruneBlocked"),
            "healthError": state.get("healthError"),
            "clusterStacks": [s.to_dict() for s in self.stacks],
        }


def _stacks(kube: Kube) -> Resource | None:
    try:
        return kube.resource_for_group(GROUP, "ClusterStack")
    except NotFoundError:
        return None


def overview(kube: Kube, name: str, inventory_namespace: str, namespace: str | None) -> Overview:
    """The inventory ``inventory_namespace/name`` and the ClusterStacks (of ``namespace``)."""
    inventory = InventoryStore(kube, name, inventory_namespace).read()
    found = Overview(f"{inventory_namespace}/{name}", len(inventory.members), inventory.state)
    resource = _stacks(kube)
    if resource is not None:
        listed = kube.list(resource, namespace=namespace)
        found.stacks = sorted(
            (StackView.of(item) for item in listed.items), key=lambda v: (v.namespace, v.name)
        )
        found.resource_version = listed.resource_version
    return found


def follow(
    kube: Kube,
    namespace: str | None,
    since: str,
    stopped: Callable[[], bool] = lambda: False,
) -> Iterator[tuple[str, StackView]]:
    """``(event, view)`` for each change of a ClusterStack after ``since``, until ``stopped``."""
    resource = _stacks(kube)
    if resource is None:
        return
    version = since
    while not stopped():
        for kind, obj in kube.watch(
            resource,
            label_selector=None,
            resource_version=version,
            namespace=namespace,
            timeout_seconds=60,
        ):
            if kind == "ERROR":  # the version expired: list again, then watch on
                version = kube.list(resource, namespace=namespace).resource_version
                break
            meta = obj.get("metadata") or {}
            version = str(meta.get("resourceVersion") or version)
            if kind in ("ADDED", "MODIFIED", "DELETED"):
                yield kind, StackView.of(obj)
            if stopped():
                return
