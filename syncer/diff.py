"""What a sync would change, computed without changing anything (server-side dry-run apply).

Objects that left the manifests go through the same prune guards as a sync (with the default
limits): those a sync deletes are ``removed``; those it keeps are ``kept``, with the reason (in
use by which Clusters, a CRD or Namespace, prune disabled, owned by another ApplySet, or the
whole prune held back by the share limit). Secret values never appear: they are masked as
``kubectl diff`` masks them (:mod:`csops.redact`).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from csops import redact
from csops.syncer import desired, health, nodeimages
from csops.syncer.apply import in_sync
from csops.syncer.engine import Engine, EngineOptions
from csops.syncer.errors import ApiError, NotFoundError
from csops.syncer.inventory import PART_OF_LABEL, InventoryStore
from csops.syncer.kube import Kube
from csops.syncer.objects import ObjectId
from csops.syncer.prune import PruneGuards, PrunePlan, plan
from csops.syncer.reconcile import class_usage

VOLATILE = ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp")


@dataclass
class ObjectDiff:
    id: ObjectId
    action: str  # added | changed | removed | kept
    diff: str
    reason: str = ""
    """Why a sync keeps an object that left the manifests."""


@dataclass
class ClusterDiff:
    added: list[ObjectDiff] = field(default_factory=list)
    changed: list[ObjectDiff] = field(default_factory=list)
    removed: list[ObjectDiff] = field(default_factory=list)
    kept: list[ObjectDiff] = field(default_factory=list)
    errors: dict[ObjectId, str] = field(default_factory=dict)
    waiting: dict[ObjectId, str] = field(default_factory=dict)
    """Class objects a sync would not add yet: what each waits for (its node images)."""

    @property
    def empty(self) -> bool:
        """Whether a sync would change nothing (kept objects change nothing)."""
        return not (self.added or self.changed or self.removed)


def kept_reasons(prune: PrunePlan) -> dict[ObjectId, str]:
    """Why each stale object a sync keeps stays, in the words ``sync`` logs."""
    reasons = {oid: f"in use by {', '.join(users)}" for oid, users in prune.kept_in_use.items()}
    reasons.update(
        dict.fromkeys(prune.protected, "CRDs and Namespaces are pruned only with --allow-crd-prune")
    )
    reasons.update(
        dict.fromkeys(prune.orphaned, "released: prune disabled or owned by another ApplySet")
    )
    if prune.blocked:
        reasons.update(dict.fromkeys(prune.delete, prune.blocked))
    return reasons


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings as ``|`` blocks, so a diff shows the changed line."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str)


def _clean(obj: dict[str, Any] | None) -> str:
    if obj is None:
        return ""
    obj = {k: v for k, v in obj.items() if k != "status"}
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in VOLATILE}
    return yaml.dump({**obj, "metadata": meta}, Dumper=_BlockDumper, sort_keys=True)


def _unified(oid: ObjectId, live: dict[str, Any] | None, desired: dict[str, Any] | None) -> str:
    """The unified YAML diff of the live and the desired object, Secret values masked."""
    label = str(oid).replace(" ", "/")
    before, after = (_clean(o) for o in redact.masked(live, desired))
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            f"live/{label}",
            f"desired/{label}",
        )
    )


def cluster_diff(
    manifests: Path,
    kube: Kube,
    *,
    name: str = "csops",
    inventory_namespace: str = "csops-system",
    guards: PruneGuards | None = None,
) -> ClusterDiff:
    """Added/changed/removed objects with unified YAML diffs; makes no persistent change.

    Changed objects are compared against a server-side dry-run apply, so defaults and other
    managers' fields are shown as the server would keep them. Inventory members no longer
    desired are ``removed`` or ``kept`` as the prune ``guards`` of a sync decide.
    """
    objects = desired.load(manifests)
    store = InventoryStore(kube, name, inventory_namespace)
    engine = Engine(kube, EngineOptions(labels={PART_OF_LABEL: store.id}))
    result = ClusterDiff()
    gate = _node_images(objects, engine)
    for obj in objects:
        try:
            _, resource, body = engine.resolve(obj.body)
            live = kube.get_or_none(resource, obj.id.namespace or None, obj.id.name)
            if live is None and obj.id in gate.held:
                releases = [r for r in nodeimages.releases_of(obj.body) if r in gate.waiting]
                result.waiting[obj.id] = gate.message(releases[0])
                continue
            if live is None:
                result.added.append(ObjectDiff(obj.id, "added", _unified(obj.id, None, body)))
                continue
            if in_sync(body, live, kube.field_manager):
                continue
            after = kube.apply(resource, body, dry_run=True)
            text = _unified(obj.id, live, after)
            if text:
                result.changed.append(ObjectDiff(obj.id, "changed", text))
        except NotFoundError:
            result.added.append(ObjectDiff(obj.id, "added", _unified(obj.id, None, obj.body)))
        except ApiError as exc:
            result.errors[obj.id] = str(exc)
    wanted = {o.id for o in objects}
    inventory = store.read()
    stale = inventory.members - wanted
    lives = engine.read(stale, inventory.versions)
    prune = plan(
        stale,
        lives.__getitem__,
        applyset=store.id,
        inventory_size=len(inventory.members),
        usage=class_usage(kube),
        guards=guards or PruneGuards(),
    )
    reasons = kept_reasons(prune)
    for oid, live in sorted(lives.items()):
        if live is None:
            continue
        if oid in reasons:
            result.kept.append(ObjectDiff(oid, "kept", "", reasons[oid]))
        else:
            result.removed.append(ObjectDiff(oid, "removed", _unified(oid, live, None)))
    return result


def _node_images(objects: list[desired.DesiredObject], engine: Engine) -> nodeimages.NodeImageGate:
    """Which class objects a sync would hold back for their release's node images."""
    pairs = [(o.id, o.body) for o in objects]
    lives = engine.read(oid for oid, _ in pairs if nodeimages.is_node_image(oid))
    return nodeimages.plan(
        pairs, lambda oid: health.compute(lives.get(oid)), live=lambda oid: False
    )
