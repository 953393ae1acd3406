"""Drift repair between passes: put back the one object a watch saw changed, not the whole set.

After a successful pass the controller knows every object that pass applied or found
unchanged. A watch event for one of them is checked against its desired body alone: an echo of
csops's own write, or a change to fields csops does not own, costs no request; a hand edit or a
delete is applied back (server-side apply of that object). The cost follows the events, not the
size of the managed set. What was put back is recorded as a pass records it: counted in the
owning ClusterStack's ``status.drift`` with a ``DriftCorrected`` Event
(:mod:`csops.syncer.driftstatus`).

Everything else needs a full pass (:meth:`DriftRepair.note` says so): any event after a pass
that failed; an object the pass did not apply (a class object held back for its node images,
a ClusterStack applied by hand, a Cluster); an object whose health differs from what the pass
saw (status the pass computes may change; node images becoming ready release held objects).
Events that arrive during a pass are kept and judged against that pass's objects when it ends;
those of objects it pruned are dropped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from csops.syncer import driftstatus, health, stackstatus
from csops.syncer.apply import Item, in_sync
from csops.syncer.changeset import Action, Change
from csops.syncer.clock import SYSTEM, Clock, timestamp
from csops.syncer.desired import DesiredObject
from csops.syncer.engine import Engine
from csops.syncer.errors import ApiError
from csops.syncer.objects import ObjectId, Reference, Resource
from csops.syncer.ordering import staged
from csops.syncer.statuswriter import StatusWriter

DELETED = "DELETED"


@dataclass(frozen=True)
class _Synced:
    """What the last successful pass left in place: the objects, and the identities it applied
    (or found unchanged, as the engine resolved them) with their health as it saw them."""

    objects: list[DesiredObject]
    lives: dict[ObjectId, dict[str, Any] | None]

    def repairable(self, oid: ObjectId, kind: str, obj: dict[str, Any]) -> bool:
        """Whether the event can be repaired without a pass."""
        if oid not in self.lives:
            return False
        return kind == DELETED or (
            health.compute(obj).status == health.compute(self.lives[oid]).status
        )


class DriftRepair:
    """Collects watch events on managed objects and applies back those that drifted."""

    def __init__(self, engine: Engine, clock: Clock = SYSTEM) -> None:
        self.engine = engine
        self.clock = clock
        self.status_errors: list[str] = []
        """What the last repair could not record (status or Event writes)."""
        self._owners: stackstatus.Ownership | None = None
        self._lock = threading.Lock()
        self._passing = False
        self._synced: _Synced | None = None
        self._bodies: dict[ObjectId, tuple[Resource, dict[str, Any]]] | None = None
        self._pending: dict[ObjectId, dict[str, Any] | None] = {}

    def begin_pass(self) -> None:
        """A pass starts: it reads every object afresh, so the events so far are done with;
        those that arrive during it are kept until it ends."""
        with self._lock:
            self._passing = True
            self._pending.clear()

    def end_pass(self, objects: list[DesiredObject] | None, outcomes: Iterable[Change]) -> None:
        """The pass ended; ``objects`` None when it failed (then every event needs a pass)."""
        with self._lock:
            self._passing = False
            self._bodies = None
            self._owners = None
            if objects is None:
                self._synced = None
                self._pending.clear()
                return
            lives = {c.id: c.live for c in outcomes if c.action != Action.FAILED}
            synced = _Synced(objects, lives)
            self._synced = synced
            self._pending = {
                oid: obj
                for oid, obj in self._pending.items()
                if oid in lives and (obj is None or synced.repairable(oid, "", obj))
            }

    def note(self, kind: str, obj: dict[str, Any]) -> bool:
        """Keep a watch event (``ADDED``, ``MODIFIED``, ``DELETED``) for repair; False when
        it needs a full pass instead."""
        oid = ObjectId.of(obj)
        with self._lock:
            if not self._passing and (
                self._synced is None or not self._synced.repairable(oid, kind, obj)
            ):
                return False
            self._pending[oid] = None if kind == DELETED else obj
            return True

    @property
    def pending(self) -> bool:
        """Whether events wait for :meth:`repair`."""
        with self._lock:
            return bool(self._pending) and not self._passing

    def repair(self) -> list[Change]:
        """Apply back what the kept events show drifted, stage by stage (a deleted Namespace
        before its objects); unchanged objects cost no request."""
        with self._lock:
            if self._passing or self._synced is None:
                return []
            pending, self._pending = self._pending, {}
            synced = self._synced
            bodies = self._resolved(synced)
        manager = self.engine.kube.field_manager
        items: list[Item] = []
        for oid, seen in pending.items():
            found = bodies.get(oid)
            if found is None or in_sync(found[1], seen, manager):
                continue
            resource, body = found
            live = self.engine.kube.get_or_none(resource, oid.namespace or None, oid.name)
            items.append((oid, resource, body, live))  # as it is now: the event may be old
        if not items:
            return []
        self.engine.before_write("repairing drift")
        changes: list[Change] = []
        for stage in staged(items, key=lambda item: item[0]):
            if stage:
                changes += self.engine.applier.apply(stage)
        self._record([c.id for c in changes if c.changed], synced)
        return changes

    def _record(self, drifted: list[ObjectId], synced: _Synced) -> None:
        """Count what was put back in its ClusterStacks' ``status.drift``, with the Event."""
        self.status_errors = []
        if not drifted:
            return
        if self._owners is None:
            releases = {
                (o.id.namespace, o.id.name): None
                for o in synced.objects
                if o.id.group == stackstatus.GROUP and o.id.kind == "ClusterStackRelease"
            }
            self._owners = stackstatus.Ownership(synced.objects, releases)
        writer = StatusWriter(self.engine.kube, clock=self.clock)
        updates = repaired_status(self._owners, drifted, self._stack, timestamp(self.clock))
        stackstatus.publish(writer, updates)
        self.status_errors = writer.errors

    def _stack(self, stack: ObjectId) -> dict[str, Any] | None:
        resource = self.engine.kube.resource(stackstatus.API_VERSION, "ClusterStack")
        return self.engine.kube.get_or_none(resource, stack.namespace, stack.name)

    def _resolved(self, synced: _Synced) -> dict[ObjectId, tuple[Resource, dict[str, Any]]]:
        """Identity → (resource, body to apply) of the applied objects, resolved once per pass
        (at the first event after it)."""
        if self._bodies is None:
            bodies = {}
            for obj in synced.objects:
                try:
                    oid, resource, body = self.engine.resolve(obj.body)
                except ApiError:
                    continue
                if oid in synced.lives:
                    bodies[oid] = (resource, body)
            self._bodies = bodies
        return self._bodies


def repaired_status(
    owners: stackstatus.Ownership,
    drifted: Sequence[ObjectId],
    live: Callable[[ObjectId], dict[str, Any] | None],
    now: str,
) -> list[stackstatus.StatusUpdate]:
    """The status updates of a repair: each ClusterStack owning one of ``drifted`` counts it
    in ``status.drift`` and gets the Event; the rest of its status stays what the last pass
    wrote. ``live`` reads a ClusterStack (None when it is gone)."""
    updates = []
    for stack in owners.stacks:
        mine = [oid for oid in drifted if stack in owners.stacks_of(oid)]
        current = live(stack) if mine else None
        if current is None:
            continue
        status = {**(current.get("status") or {}), "drift": driftstatus.record(current, mine, now)}
        target = Reference(stackstatus.API_VERSION, "ClusterStack", stack.namespace, stack.name)
        event = driftstatus.event(mine)
        updates.append(stackstatus.StatusUpdate(target, status, current, activity=(event,)))
    return updates
