"""One sync pass, as a recipe of stages; every stage is idempotent, so a crash anywhere is
repaired by the next pass:

1. load the revision's objects (an empty or broken revision stops here: nothing is touched);
2. record the inventory as a superset (old members plus desired, with the apiVersion each is
   applied at) before any write;
3. apply in stages and wait (the :class:`~csops.syncer.engine.Engine`); an object that exists
   but is another manager's is taken over only with consent, else left out of the inventory;
4. prune what left the revision, behind the guards of :mod:`~csops.syncer.prune`, and only on
   a freshly fetched revision whose objects all applied;
5. write ClusterStack / ClusterStackRelease status and Events (:mod:`~csops.syncer.stackstatus`),
   and mark ClusterStacks that are in the cluster but not in git;
6. narrow the inventory by the members confirmed deleted (or released by their opt-out); a
   blocked, failed or skipped prune narrows nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from csops.renderer import RELEASES_ANNOTATION
from csops.syncer import desired, health, nodeimages, stackstatus
from csops.syncer.changeset import Action, Change, ChangeSet
from csops.syncer.clock import SYSTEM, Clock, timestamp
from csops.syncer.engine import Engine, EngineOptions, still_there
from csops.syncer.errors import NotFoundError
from csops.syncer.inventory import PART_OF_LABEL, Inventory, InventoryStore
from csops.syncer.kube import Kube
from csops.syncer.lastapplied import LastApplied
from csops.syncer.objects import ObjectId, Resource
from csops.syncer.ordering import FOUNDATION, stage_of
from csops.syncer.prune import PruneGuards, PrunePlan, plan
from csops.syncer.source import Revision
from csops.syncer.statuswriter import StatusWriter
from csops.syncer.usage import CLUSTER_GROUP, ClassUsage


@dataclass(frozen=True)
class SyncOptions:
    prune: bool = True
    guards: PruneGuards = field(default_factory=PruneGuards)
    wait: bool = True
    timeout: float = 60.0
    crd_timeout: float = 30.0
    concurrency: int = 8
    adopt: bool = False
    """Take over existing objects csops did not create (``--adopt``)."""


@dataclass
class SyncResult:
    revision: str
    outcomes: list[Change] = field(default_factory=list)
    prune: PrunePlan | None = None
    pruned: list[ObjectId] = field(default_factory=list)
    prune_errors: dict[ObjectId, str] = field(default_factory=dict)
    health_error: str | None = None
    fetch_error: str | None = None
    """Set when the source could not be fetched and this pass ran on the last good revision."""
    status_errors: list[str] = field(default_factory=list)
    held: dict[ObjectId, str] = field(default_factory=dict)
    """Class objects not applied yet: what each waits for (its release's node images)."""
    duration: float = 0.0
    drifted: set[ObjectId] = field(default_factory=set)
    """Objects changed or deleted outside git that the pass put back."""
    pruned_releases: dict[ObjectId, str] = field(default_factory=dict)
    """Each pruned object's release annotation (which ClusterStack it belonged to)."""
    stacks: dict[tuple[str, str], bool] = field(default_factory=dict)
    """(namespace, name) of each ClusterStack in git → whether it is Ready."""
    unmanaged: list[tuple[str, str]] = field(default_factory=list)
    """ClusterStacks in the cluster that are not in git (left alone, marked)."""
    managed: int = 0
    """Objects in the inventory after the pass."""

    @property
    def failed(self) -> list[Change]:
        return [o for o in self.outcomes if o.action == Action.FAILED]

    @property
    def changed(self) -> list[Change]:
        return [o for o in self.outcomes if o.changed]

    @property
    def adopted(self) -> list[Change]:
        return [o for o in self.outcomes if o.action == Action.ADOPTED]

    @property
    def ok(self) -> bool:
        return (
            not self.failed
            and not self.prune_errors
            and self.health_error is None
            and self.fetch_error is None
        )

    def problems(self) -> list[str]:
        """Every reason this pass is not :attr:`ok`, one line each."""
        return (
            ([f"fetch: {self.fetch_error}"] if self.fetch_error else [])
            + [f"{o.id}: {o.error}" for o in self.failed]
            + [f"prune {k}: {v}" for k, v in self.prune_errors.items()]
            + ([self.health_error] if self.health_error else [])
        )

    def summary(self) -> str:
        parts = [
            f"{len(self.changed)} applied"
            + (f" ({len(self.drifted)} drift)" if self.drifted else ""),
            f"{len(self.outcomes) - len(self.changed) - len(self.failed)} unchanged",
            f"{len(self.pruned)} pruned",
        ]
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        if self.held:
            parts.append(f"{len(self.held)} waiting for node images")
        if self.prune and self.prune.kept_in_use:
            parts.append(f"{len(self.prune.kept_in_use)} kept in use")
        if self.adopted:
            parts.append(f"{len(self.adopted)} adopted")
        if self.prune and self.prune.blocked:
            parts.append("prune blocked")
        if self.fetch_error:
            parts.append("not fetched: last good revision, no prune")
        return ", ".join(parts)

    def state(self) -> dict[str, Any]:
        """What the inventory records about this pass (no timestamps: rewrites only on change)."""
        return {
            "revision": self.revision,
            "ok": self.ok,
            "failed": {str(o.id): o.error or "" for o in self.failed},
            "keptInUse": {
                str(k): v for k, v in (self.prune.kept_in_use if self.prune else {}).items()
            },
            "pruneBlocked": self.prune.blocked if self.prune else None,
            "pruneErrors": {str(k): v for k, v in self.prune_errors.items()},
            "healthError": self.health_error,
            "unmanaged": [f"{ns}/{name}" for ns, name in self.unmanaged],
            "fetchError": self.fetch_error,
        }


def class_usage(kube: Kube) -> ClassUsage:
    """Every Cluster in every namespace (none when CAPI's CRDs are not installed)."""
    try:
        resource = kube.resource_for_group(CLUSTER_GROUP, "Cluster")
    except NotFoundError:
        return ClassUsage()
    return ClassUsage.of(kube.list(resource).items)


def change_version(live: dict[str, Any] | None) -> str:
    """The apiVersion a live object was read at."""
    return str((live or {}).get("apiVersion", ""))


class Reconciler:
    """Reconciles the management cluster toward one revision at a time."""

    def __init__(
        self,
        kube: Kube,
        store: InventoryStore,
        options: SyncOptions | None = None,
        *,
        cancelled: Callable[[], bool] = lambda: False,
        clock: Clock = SYSTEM,
        may_write: Callable[[], bool] = lambda: True,
        keep_parsed: bool = False,
    ) -> None:
        """``keep_parsed``: keep each revision's parsed files for the next pass (a
        long-running controller), so only changed files are parsed again."""
        self.kube = kube
        self.store = store
        self.options = options or SyncOptions()
        self.clock = clock
        engine_options = EngineOptions(
            labels={PART_OF_LABEL: store.id},
            concurrency=self.options.concurrency,
            wait=self.options.wait,
            timeout=self.options.timeout,
            crd_timeout=self.options.crd_timeout,
            waits_for=lambda oid: not nodeimages.is_node_image(oid),
            adopt=self.options.adopt,
        )
        self.engine = Engine(
            kube, engine_options, clock=clock, may_write=may_write, cancelled=cancelled
        )
        self.last_applied: LastApplied | None = None
        self.parsed = desired.ParseCache() if keep_parsed else None
        self.last_objects: list[desired.DesiredObject] = []
        """The objects of the last revision loaded."""

    @property
    def managed(self) -> set[Resource]:
        """Every resource a pass applied to (what the drift watches follow)."""
        return self.engine.managed

    def sync(self, revision: Revision) -> SyncResult:
        started = self.clock.monotonic()
        # RevisionError: nothing applied or pruned
        objects = desired.load(
            revision.manifests, revision.boundary, contents=revision.contents, cache=self.parsed
        )
        self.last_objects = objects
        result = SyncResult(revision.name, fetch_error=revision.stale_error)
        inventory = self.store.read()
        if self.last_applied is None:  # a restart: the last pass's revision, without digests
            state = inventory.state
            self.last_applied = LastApplied(state.get("revision") if state.get("ok") else None)
        ids = {o.id for o in objects}
        versions = {**inventory.versions, **{o.id: o.api_version for o in objects}}
        members = inventory.members | ids
        self.engine.before_write("recording the inventory")
        self.store.write(members, inventory.state, versions)  # superset first
        changes, gate = self._apply(objects)
        result.outcomes, result.health_error = changes.entries, changes.health_error
        result.held = {oid: gate.message(r) for oid, r in _held_by(objects, gate).items()}
        result.drifted = self.last_applied.drifted(
            revision.name, ((o.id, o.body) for o in objects), (c.id for c in result.changed)
        )
        members -= changes.refused - inventory.members  # another manager's, never ours
        if self.options.prune and not result.failed and result.fetch_error is None:
            members -= self._prune(inventory, ids, result)
        self.engine.before_write("writing status")
        result.status_errors = self._write_status(objects, changes, result, revision, gate)
        result.duration = self.clock.monotonic() - started
        self.engine.before_write("narrowing the inventory")
        self.store.write(members, result.state(), versions)
        result.managed = len(members)
        if result.ok:
            self.last_applied.succeeded(revision.name, ((o.id, o.body) for o in objects))
        return result

    def _apply(
        self, objects: list[desired.DesiredObject]
    ) -> tuple[ChangeSet, nodeimages.NodeImageGate]:
        """Apply node images first (after CRDs and Namespaces), then the rest of the objects
        except the class objects of releases whose node images are not ready yet."""
        first = {
            o.id for o in objects if stage_of(o.id) == FOUNDATION or nodeimages.is_node_image(o.id)
        }
        early = self.engine.apply([o.body for o in objects if o.id in first])
        gate = self._node_images(objects, early)
        later = self.engine.apply(
            [o.body for o in objects if o.id not in first and o.id not in gate.held]
        )
        changes = ChangeSet(
            early.entries + later.entries,
            {**early.unhealthy, **later.unhealthy},
            early.health_error or later.health_error,
            early.refused | later.refused,
        )
        return changes, gate

    def _node_images(
        self, objects: list[desired.DesiredObject], applied: ChangeSet
    ) -> nodeimages.NodeImageGate:
        """Which class objects wait for their release's node images, as just applied."""
        pairs = [(o.id, o.body) for o in objects]
        lives = {change.id: change.live for change in applied.entries}

        def state(oid: ObjectId) -> health.Health:
            return health.compute(lives.get(oid))

        candidates = nodeimages.plan(pairs, state, live=lambda oid: False).held
        present = self.engine.read(candidates)
        return nodeimages.plan(pairs, state, live=lambda oid: present.get(oid) is not None)

    def _prune(self, inventory: Inventory, ids: set[ObjectId], result: SyncResult) -> set[ObjectId]:
        """Delete what the guards allow; the members that leave the inventory: confirmed
        gone, confirmed deleted, or released by their opt-out or another owner."""
        stale = inventory.members - ids
        if not stale:
            result.prune = PrunePlan()
            return set()
        lives = self.engine.read(stale, inventory.versions)
        result.prune = plan(
            stale,
            lives.__getitem__,
            applyset=self.store.id,
            inventory_size=len(inventory.members),
            usage=class_usage(self.kube),
            guards=self.options.guards,
        )
        if result.prune.blocked:
            return set()
        held: dict[ObjectId, str] = {}  # deleted, but finalizers or a grace period hold them
        for change in self.engine.delete(result.prune.delete, lives).entries:
            if change.action == Action.DELETED:
                result.pruned.append(change.id)
                if still_there(change.live):
                    held[change.id] = change_version(lives[change.id])
                annotations = ((lives.get(change.id) or {}).get("metadata") or {}).get(
                    "annotations"
                ) or {}
                result.pruned_releases[change.id] = annotations.get(RELEASES_ANNOTATION, "")
            else:
                result.prune_errors[change.id] = change.error or "delete failed"
        remaining = self.engine.read(held, held)  # gone since the delete answered?
        confirmed = {oid for oid in result.pruned if oid not in held}
        confirmed |= {oid for oid, live in remaining.items() if live is None}
        return result.prune.released | confirmed

    def _write_status(
        self,
        objects: list[desired.DesiredObject],
        changes: ChangeSet,
        result: SyncResult,
        revision: Revision,
        gate: nodeimages.NodeImageGate,
    ) -> list[str]:
        """Write ClusterStack and ClusterStackRelease status; what could not be written."""
        by_id = changes.by_id()
        kept = result.prune.kept_in_use if result.prune else {}
        report = stackstatus.PassReport(
            revision.name,
            by_id,
            kept,
            result.summary(),
            revision.kubernetes_versions(stackstatus.release_names(objects, kept)),
            gate,
            drifted=frozenset(result.drifted),
            pruned=result.pruned_releases,
            now=timestamp(self.clock),
        )
        live = {oid: change.live for oid, change in by_id.items()}
        updates = stackstatus.compute(objects, report, live)
        result.stacks = stackstatus.ready_of(updates)
        strangers = self._unmanaged_stacks()
        result.unmanaged = [
            (str(s["metadata"].get("namespace", "")), str(s["metadata"]["name"])) for s in strangers
        ]
        updates += stackstatus.unmanaged(strangers, revision.name)
        writer = StatusWriter(self.kube, clock=self.clock)
        stackstatus.publish(writer, updates)
        return writer.errors

    def _unmanaged_stacks(self) -> list[dict[str, Any]]:
        """ClusterStacks in the cluster without any ApplySet's label (applied by hand)."""
        try:
            resource = self.kube.resource_for_group(stackstatus.GROUP, "ClusterStack")
            items = self.kube.list(resource).items
        except NotFoundError:
            return []
        return [
            s for s in items if PART_OF_LABEL not in ((s.get("metadata") or {}).get("labels") or {})
        ]


def _held_by(
    objects: list[desired.DesiredObject], gate: nodeimages.NodeImageGate
) -> dict[ObjectId, str]:
    """Each held object and the (first) waiting release it belongs to."""
    held = {}
    for obj in objects:
        if obj.id in gate.held:
            releases = [r for r in nodeimages.releases_of(obj.body) if r in gate.waiting]
            held[obj.id] = releases[0]
    return held
