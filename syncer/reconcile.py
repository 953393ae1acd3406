"""One sync pass: load a revision, record the inventory superset, apply in stages, wait, prune,
narrow the inventory, write status. Every step is idempotent, so a crash anywhere is repaired by
the next pass."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from csops.syncer import desired, health, status
from csops.syncer.apply import FAILED, Applier, Outcome, prepared
from csops.syncer.errors import ApiError, LeadershipLostError, NotFoundError
from csops.syncer.inventory import PART_OF_LABEL, Inventory, InventoryStore
from csops.syncer.kube import Kube
from csops.syncer.objects import ObjectId, Resource
from csops.syncer.ordering import FOUNDATION, is_crd, stage_of, staged
from csops.syncer.prune import PruneGuards, PrunePlan, plan
from csops.syncer.source import Revision
from csops.syncer.usage import class_usage


@dataclass(frozen=True)
class SyncOptions:
    prune: bool = True
    guards: PruneGuards = field(default_factory=PruneGuards)
    wait: bool = True
    timeout: float = 60.0
    crd_timeout: float = 30.0
    concurrency: int = 8


@dataclass
class SyncResult:
    revision: str
    outcomes: list[Outcome] = field(default_factory=list)
    prune: PrunePlan | None = None
    pruned: list[ObjectId] = field(default_factory=list)
    prune_errors: dict[ObjectId, str] = field(default_factory=dict)
    health_error: str | None = None
    duration: float = 0.0

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.action == FAILED]

    @property
    def changed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.changed]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.prune_errors and self.health_error is None

    def summary(self) -> str:
        parts = [
            f"{len(self.changed)} applied",
            f"{len(self.outcomes) - len(self.changed) - len(self.failed)} unchanged",
            f"{len(self.pruned)} pruned",
        ]
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        if self.prune and self.prune.kept_in_use:
            parts.append(f"{len(self.prune.kept_in_use)} kept in use")
        if self.prune and self.prune.blocked:
            parts.append("prune blocked")
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
        }


class Reconciler:
    def __init__(
        self,
        kube: Kube,
        store: InventoryStore,
        options: SyncOptions | None = None,
        *,
        cancelled: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        may_write: Callable[[], bool] = lambda: True,
    ) -> None:
        self.kube = kube
        self.store = store
        self.options = options or SyncOptions()
        self.applier = Applier(kube, self.options.concurrency)
        self.cancelled = cancelled
        self.clock = clock
        self.sleep = sleep
        self.may_write = may_write
        self.managed: set[Resource] = set()

    def _before_write(self, what: str) -> None:
        """Stop the pass before ``what`` when this replica may no longer write (lost its lease).

        Every step is idempotent and the inventory is a superset before any apply, so stopping
        between writes leaks nothing; the new leader's pass finishes the work."""
        if not self.may_write():
            raise LeadershipLostError(f"lost leadership; stopped before {what}")

    # ------------------------------------------------------------------ pass
    def sync(self, revision: Revision) -> SyncResult:
        started = self.clock()
        objects = desired.load(revision.manifests)  # RevisionError: nothing applied or pruned
        result = SyncResult(revision.name)
        inventory = self.store.read()
        ids = {o.id for o in objects}
        self._before_write("recording the inventory")
        self.store.write(inventory.members | ids, inventory.state)  # superset first
        live: dict[ObjectId, dict[str, Any] | None] = {}
        for index, stage in enumerate(staged(objects, key=lambda o: o.id)):
            if not stage:
                continue
            outcomes = self._apply_stage(stage, live)
            result.outcomes += outcomes
            if index == FOUNDATION:
                self._wait_crds(outcomes, result)
        if self.options.wait and result.health_error is None:
            self._wait_changed(result)
        if self.options.prune and not result.failed:
            self._prune(inventory, ids, result)
            members = ids | (result.prune.retained if result.prune else set())
            members |= set(result.prune_errors)
        else:
            members = inventory.members | ids
        self._before_write("writing status")
        status.publish(self.kube, objects, result, live, revision)
        result.duration = self.clock() - started
        self._before_write("narrowing the inventory")
        self.store.write(members, result.state())
        return result

    # ------------------------------------------------------------------ apply
    def _resolve(self, obj: desired.DesiredObject) -> Resource:
        return self.kube.resource(obj.api_version, obj.id.kind)

    def _apply_stage(
        self, stage: list[desired.DesiredObject], live: dict[ObjectId, dict[str, Any] | None]
    ) -> list[Outcome]:
        items = []
        failed: list[Outcome] = []
        by_resource: dict[Resource, list[desired.DesiredObject]] = {}
        for obj in stage:
            try:
                resource = self._resolve(obj)
            except ApiError as exc:
                failed.append(Outcome(obj.id, FAILED, None, str(exc)))
                continue
            by_resource.setdefault(resource, []).append(obj)
        for resource, group in by_resource.items():
            self.managed.add(resource)
            listed = self._list_members(resource)
            for obj in group:
                body = prepared(obj, self.store.id, resource)
                key = ObjectId.of(body)
                current = listed.get(key)
                live[obj.id] = current
                items.append((obj.id, resource, body, current))
        self._before_write("applying")
        outcomes = self.applier.apply(items)
        for outcome in outcomes:
            if outcome.live is not None:
                live[outcome.id] = outcome.live
        return failed + outcomes

    def _list_members(self, resource: Resource) -> dict[ObjectId, dict[str, Any]]:
        selector = f"{PART_OF_LABEL}={self.store.id}"
        try:
            items = self.kube.list(resource, label_selector=selector).items
        except NotFoundError:
            return {}
        return {ObjectId.of(item): item for item in items}

    def _wait_crds(self, outcomes: list[Outcome], result: SyncResult) -> None:
        crds = {o.id.name: o for o in outcomes if is_crd(o.id) and o.action != FAILED}
        pending = [
            name for name, o in crds.items() if health.compute(o.live).status != health.CURRENT
        ]
        if pending:
            resource = self.kube.resource("apiextensions.k8s.io/v1", "CustomResourceDefinition")
            report = health.wait_for(
                pending,
                lambda name: self.kube.get_or_none(resource, None, name),
                timeout=self.options.crd_timeout,
                cancelled=self.cancelled,
                clock=self.clock,
                sleep=self.sleep,
                interval=0.1,
            )
            if report.pending:
                result.health_error = "CRDs not established: " + ", ".join(
                    f"{k} ({h.message})" for k, h in sorted(report.pending.items())
                )
        if any(o.changed for o in crds.values()):
            self.kube.forget()

    def _wait_changed(self, result: SyncResult) -> None:
        changed = {str(o.id): o for o in result.changed if stage_of(o.id) != FOUNDATION}
        if not changed:
            return
        resources = {str(o.id): o for o in changed.values()}

        def fetch(key: str) -> dict[str, Any] | None:
            outcome = resources[key]
            body = outcome.live or {}
            try:
                resource = self.kube.resource(str(body.get("apiVersion")), outcome.id.kind)
                return self.kube.get_or_none(
                    resource, outcome.id.namespace or None, outcome.id.name
                )
            except ApiError:
                return None

        report = health.wait_for(
            sorted(changed),
            fetch,
            timeout=self.options.timeout,
            cancelled=self.cancelled,
            clock=self.clock,
            sleep=self.sleep,
            known=lambda key: resources[key].live,
        )
        if report.failed:
            result.health_error = "failed: " + "; ".join(
                f"{k}: {h.message}" for k, h in sorted(report.failed.items())
            )
        elif report.pending:
            what = "cancelled by a newer revision" if self.cancelled() else "timed out"
            result.health_error = f"health wait {what}; not current: " + "; ".join(
                f"{k} ({h.status}: {h.message})" for k, h in sorted(report.pending.items())
            )

    # ------------------------------------------------------------------ prune
    def _live(self, oid: ObjectId) -> dict[str, Any] | None:
        try:
            resource = self.kube.resource_for_group(oid.group, oid.kind)
            return self.kube.get_or_none(resource, oid.namespace or None, oid.name)
        except NotFoundError:
            return None

    def _prune(self, inventory: Inventory, ids: set[ObjectId], result: SyncResult) -> None:
        stale = inventory.members - ids
        if not stale:
            result.prune = PrunePlan()
            return
        workers = max(1, min(self.options.concurrency, len(stale)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            lives = dict(zip(stale, pool.map(self._live, stale), strict=True))

        result.prune = plan(
            stale,
            lives.__getitem__,
            applyset=self.store.id,
            inventory_size=len(inventory.members),
            usage=class_usage(self.kube),
            guards=self.options.guards,
        )
        if result.prune.blocked:
            return

        def delete(oid: ObjectId) -> str | None:
            uid = ((lives.get(oid) or {}).get("metadata") or {}).get("uid")
            self._before_write(f"deleting {oid}")
            try:
                resource = self.kube.resource_for_group(oid.group, oid.kind)
                self.kube.delete(resource, oid.namespace or None, oid.name, uid=uid)
            except ApiError as exc:
                return str(exc)
            return None

        # Later stages first (the rest, then classes, then CRDs and Namespaces); one stage's
        # deletes run in parallel, like its applies.
        by_stage: dict[int, list[ObjectId]] = {}
        for oid in result.prune.delete:
            by_stage.setdefault(stage_of(oid), []).append(oid)
        for stage in sorted(by_stage, reverse=True):
            batch = sorted(by_stage[stage])
            with ThreadPoolExecutor(max_workers=max(1, min(workers, len(batch)))) as pool:
                for oid, error in zip(batch, pool.map(delete, batch), strict=True):
                    if error is None:
                        result.pruned.append(oid)
                    else:
                        result.prune_errors[oid] = error
