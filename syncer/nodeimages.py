"""Node images first: a release's ClusterClass and templates wait until its node images are ready.

The seed of Cluster Stacks says: "if all node images are ready, it will apply the Cluster API
resources". A release's node-image objects are the ORC ``Image`` objects rendered for it and the
provider's release object (``…ClusterStackRelease`` outside ``clusterstack.x-k8s.io``, ready
when its provider has imported the images). Until every one of them is healthy, the release's
class-stage objects (the ClusterClass and the templates it references) that are not in the
cluster yet are held back, and the release is reported as waiting for the images it names.
Objects already in the cluster are kept up to date: holding them back would undo nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from csops.renderer import RELEASES_ANNOTATION
from csops.syncer.health import CURRENT, ORC_GROUP, Health, is_provider_release
from csops.syncer.objects import ObjectId
from csops.syncer.ordering import CLASSES, stage_of


def is_node_image(oid: ObjectId) -> bool:
    """ORC images and provider release objects: what a release's machines boot from."""
    if oid.group == ORC_GROUP:
        return oid.kind == "Image"
    return is_provider_release(oid.group, oid.kind)


def releases_of(body: dict[str, Any]) -> list[str]:
    """The releases that render an object (the ``csops.io/releases`` annotation)."""
    value = ((body.get("metadata") or {}).get("annotations") or {}).get(RELEASES_ANNOTATION, "")
    return [r for r in str(value).split(",") if r]


@dataclass
class NodeImageGate:
    """Which releases wait for which images, and which objects are held back for them."""

    waiting: dict[str, list[tuple[ObjectId, str]]] = field(default_factory=dict)
    held: set[ObjectId] = field(default_factory=set)
    with_images: set[str] = field(default_factory=set)
    """Every release that has node-image objects, ready or not."""

    def message(self, release: str) -> str:
        """What a release waits for, for its status; ``""`` when it waits for nothing."""
        images = self.waiting.get(release)
        if not images:
            return ""
        return "waiting for node image " + "; ".join(
            f"{oid} ({reason})" if reason else str(oid) for oid, reason in images
        )


def plan(
    objects: Iterable[tuple[ObjectId, dict[str, Any]]],
    health: Callable[[ObjectId], Health],
    live: Callable[[ObjectId], bool],
) -> NodeImageGate:
    """Decide what waits: ``health`` of each node-image object, ``live`` for class objects."""
    objects = list(objects)
    gate = NodeImageGate()
    for oid, body in objects:
        if not is_node_image(oid):
            continue
        gate.with_images.update(releases_of(body))
        state = health(oid)
        if state.status == CURRENT:
            continue
        for release in releases_of(body):
            gate.waiting.setdefault(release, []).append((oid, state.message))
    for oid, body in objects:
        releases = releases_of(body)
        if (
            releases
            and stage_of(oid) == CLASSES
            and all(r in gate.waiting for r in releases)
            and not live(oid)
        ):
            gate.held.add(oid)
    return gate
