"""The apply engine: apply these objects to this cluster in stages, wait, delete, report changes.

Both the management sync (:mod:`csops.syncer.reconcile`) and each workload cluster's addons
(:mod:`csops.syncer.addons.stages`) go through one :class:`Engine`:

1. objects are grouped into stages (:mod:`csops.syncer.ordering`: CRDs and Namespaces, then
   ``*Class`` kinds and templates, then the rest);
2. per stage, each object's REST resource is discovered, the live objects are listed once per
   resource (selected by the ownership labels the engine sets), and only what differs is
   server-side applied (:class:`~csops.syncer.apply.Applier`, bounded concurrency);
3. after the first stage, CRDs are waited on until Established, so their custom resources
   apply in the same pass; after the last, changed objects are optionally waited on (kstatus);
4. :meth:`Engine.delete` removes objects in reverse stage order, a stage's deletes in parallel,
   each guarded by the uid it was read with.

Every write is preceded by ``may_write()`` (the leader Lease), so a replica that lost the lease
stops before its next write with :class:`~csops.syncer.errors.LeadershipLostError`. Results are a
:class:`~csops.syncer.changeset.ChangeSet`; a per-object failure is an entry, not an exception.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from csops.syncer import adoption, health
from csops.syncer.apply import Applier, prepared
from csops.syncer.changeset import Action, Change, ChangeSet
from csops.syncer.clock import SYSTEM, Clock
from csops.syncer.errors import ApiError, LeadershipLostError, NotFoundError
from csops.syncer.kube import Kube
from csops.syncer.objects import ObjectId, Resource
from csops.syncer.objectwatch import ObjectWatch, Target
from csops.syncer.ordering import FOUNDATION, is_crd, stage_of, staged

Live = dict[str, Any]
CRD_API_VERSION = "apiextensions.k8s.io/v1"


@dataclass(frozen=True)
class EngineOptions:
    """How the engine applies: ownership labels, defaults, parallelism and waits."""

    labels: Mapping[str, str] = field(default_factory=dict)
    """Set on every applied object; selecting on them lists what the engine manages."""
    default_namespace: str = "default"
    """The namespace of a namespaced object that names none."""
    concurrency: int = 8
    wait: bool = True
    """Wait (kstatus) for the objects an apply changed, except CRDs and Namespaces."""
    waits_for: Callable[[ObjectId], bool] = field(default=lambda oid: True)
    """Which changed objects the wait covers (node images take hours: they are not waited on)."""
    timeout: float = 60.0
    crd_timeout: float = 30.0
    adopt: bool = False
    """Take over objects that exist but are neither labelled as the engine's nor ``owned``
    (see :mod:`~csops.syncer.adoption`); without it such objects need their own consent."""

    @property
    def selector(self) -> str | None:
        """The label selector of the ownership labels (``None`` without labels)."""
        return ",".join(f"{k}={v}" for k, v in sorted(self.labels.items())) or None


class Engine:
    """Applies and deletes sets of objects in one cluster through one :class:`Kube`."""

    def __init__(
        self,
        kube: Kube,
        options: EngineOptions | None = None,
        *,
        clock: Clock = SYSTEM,
        may_write: Callable[[], bool] = lambda: True,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> None:
        self.kube = kube
        self.options = options or EngineOptions()
        self.clock = clock
        self.may_write = may_write
        self.cancelled = cancelled
        self.applier = Applier(kube, self.options.concurrency)
        self.managed: set[Resource] = set()
        """Every resource the engine applied to (what a drift watch should follow)."""

    def before_write(self, what: str) -> None:
        """Stop before ``what`` when this replica may no longer write (it lost its lease).

        Every step is idempotent, so stopping between writes leaks nothing; the next pass (or
        the new leader's) finishes the work.
        """
        if not self.may_write():
            raise LeadershipLostError(f"lost leadership; stopped before {what}")

    # ------------------------------------------------------------------ identity
    def resolve(self, obj: Live) -> tuple[ObjectId, Resource, Live]:
        """The object's identity, REST resource and the body to apply (labels, namespace).

        Raises :class:`~csops.syncer.errors.ApiError` when the server does not know the kind.
        """
        resource = self.kube.resource(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        body = prepared(obj, resource, self.options.labels, self.options.default_namespace)
        return ObjectId.of(body), resource, body

    def identify(self, objects: Iterable[Live]) -> set[ObjectId]:
        """Identities of ``objects`` as they would be applied (unknown kinds are left out)."""
        found = set()
        for obj in objects:
            try:
                found.add(self.resolve(obj)[0])
            except NotFoundError:
                continue
        return found

    # ------------------------------------------------------------------ apply
    def apply(self, objects: Sequence[Live]) -> ChangeSet:
        """Apply ``objects`` stage by stage; only what differs from the live object is sent.

        An object that exists without the engine's labels is taken over only with consent
        (:mod:`~csops.syncer.adoption`); else its entry fails and it is :attr:`refused`.
        """
        result = ChangeSet()
        for index, stage in enumerate(staged(objects, key=ObjectId.of)):
            if not stage:
                continue
            entries = self._apply_stage(stage, result.refused)
            result.entries += entries
            if index == FOUNDATION:
                self._wait_crds(entries, result)
        if self.options.wait and result.health_error is None:
            self._wait_changed(result)
        return result

    def _apply_stage(self, stage: list[Live], refused: set[ObjectId]) -> list[Change]:
        failed: list[Change] = []
        by_resource: dict[Resource, list[tuple[ObjectId, Live]]] = {}
        for obj in stage:
            try:
                oid, resource, body = self.resolve(obj)
            except ApiError as exc:
                failed.append(Change(ObjectId.of(obj), Action.FAILED, None, str(exc), _av(obj)))
                continue
            by_resource.setdefault(resource, []).append((oid, body))
        items = []
        adopted: set[ObjectId] = set()
        for resource, group in by_resource.items():
            self.managed.add(resource)
            listed = self._list(resource)
            unlisted = [oid for oid, _ in group if oid not in listed]
            foreign = self._foreign(resource, unlisted)
            for oid, body in group:
                meta = foreign.get(oid)
                if meta is None:
                    items.append((oid, resource, body, listed.get(oid)))
                elif adoption.consented(meta, self.options.adopt, self.kube.field_manager):
                    adopted.add(oid)
                    items.append((oid, resource, body, None))
                else:
                    owner = next(iter(self.options.labels), "")
                    error = adoption.refusal(oid, meta, owner)
                    refused.add(oid)
                    failed.append(Change(oid, Action.FAILED, None, error, _av(body)))
        self.before_write("applying")
        applied = self.applier.apply(items)
        for change in applied:
            if change.id in adopted and change.changed:
                change.action = Action.ADOPTED
        return failed + applied

    def _foreign(self, resource: Resource, ids: list[ObjectId]) -> dict[ObjectId, Live]:
        """The metadata of those of ``ids`` that exist without the engine's labels: one
        metadata-only list of their namespace (or of the cluster)."""
        if not ids:
            return {}
        namespaces = {oid.namespace for oid in ids}
        scope = next(iter(namespaces)) if len(namespaces) == 1 and resource.namespaced else None
        try:
            existing = self.kube.list_metadata(resource, namespace=scope or None)
        except NotFoundError:
            return {}
        return {oid: existing[oid] for oid in ids if oid in existing}

    def _list(self, resource: Resource) -> dict[ObjectId, Live]:
        """The live objects of ``resource`` this engine manages, listed once."""
        try:
            items = self.kube.list(resource, label_selector=self.options.selector).items
        except NotFoundError:
            return {}
        return {ObjectId.of(item): item for item in items}

    def _wait_crds(self, entries: list[Change], result: ChangeSet) -> None:
        crds = {e.id: e for e in entries if is_crd(e.id) and e.action != Action.FAILED}
        pending = [
            oid for oid, e in crds.items() if health.compute(e.live).status != health.CURRENT
        ]
        if pending:
            resource = self.kube.resource(CRD_API_VERSION, "CustomResourceDefinition")
            report = health.wait_for(
                [oid.name for oid in pending],
                lambda name: self.kube.get_or_none(resource, None, name),
                timeout=self.options.crd_timeout,
                cancelled=self.cancelled,
                clock=self.clock,
                interval=0.1,
            )
            by_name = {oid.name: oid for oid in pending}
            result.unhealthy.update({by_name[k]: h for k, h in report.pending.items()})
            if report.pending:
                result.health_error = "CRDs not established: " + ", ".join(
                    f"{k} ({h.message})" for k, h in sorted(report.pending.items())
                )
        if any(e.changed for e in crds.values()):
            self.kube.forget()

    def _wait_changed(self, result: ChangeSet) -> None:
        changed = {
            str(e.id): e
            for e in result.changed
            if stage_of(e.id) != FOUNDATION and self.options.waits_for(e.id)
        }
        if not changed:
            return

        def fetch(key: str) -> Live | None:
            entry = changed[key]
            try:
                resource = self.kube.resource(entry.api_version, entry.id.kind)
                return self.kube.get_or_none(resource, entry.id.namespace or None, entry.id.name)
            except ApiError:
                return None

        pending = [k for k, e in changed.items() if health.compute(e.live).status != health.CURRENT]
        watch = self._watch(pending, changed) if pending else None
        try:
            report = health.wait_for(
                sorted(changed),
                fetch,
                timeout=self.options.timeout,
                cancelled=self.cancelled,
                clock=self.clock,
                known=lambda key: changed[key].live,
                changes=watch.next if watch is not None else None,
            )
        finally:
            if watch is not None:
                watch.close()
        result.unhealthy.update({changed[k].id: h for k, h in report.pending.items()})
        if report.failed:
            result.health_error = "failed: " + "; ".join(
                f"{k}: {h.message}" for k, h in sorted(report.failed.items())
            )
        elif report.pending:
            what = "cancelled by a newer revision" if self.cancelled() else "timed out"
            result.health_error = f"health wait {what}; not current: " + "; ".join(
                f"{k} ({h.status}: {h.message})" for k, h in sorted(report.pending.items())
            )

    def _watch(self, keys: list[str], changed: Mapping[str, Change]) -> ObjectWatch | None:
        """A watch on the objects still pending after the apply (``None``: poll instead)."""
        targets: dict[str, Target] = {}
        for key in keys:
            entry = changed[key]
            try:
                resource = self.kube.resource(entry.api_version, entry.id.kind)
            except ApiError:
                return None
            targets[key] = Target(resource, entry.id.namespace or None, entry.id.name)
        return ObjectWatch(self.kube, targets, label_selector=self.options.selector)

    # ------------------------------------------------------------------ read and delete
    def read(
        self, ids: Iterable[ObjectId], versions: Mapping[ObjectId, str] | None = None
    ) -> dict[ObjectId, Live | None]:
        """The live copy of each object, in parallel; ``None`` only when it is confirmed
        gone: the server answers 404 for it, or serves its kind at no version at all.

        An object is looked up at the apiVersion ``versions`` records for it, else at any
        version of its group that serves its kind. Any other failure is raised.
        """
        wanted = list(ids)
        if not wanted:
            return {}
        recorded = versions or {}

        def get(oid: ObjectId) -> Live | None:
            return self._get(oid, recorded.get(oid, ""))

        with ThreadPoolExecutor(max_workers=self._workers(len(wanted))) as pool:
            return dict(zip(wanted, pool.map(get, wanted), strict=True))

    def _locate(self, oid: ObjectId, api_version: str = "") -> Resource:
        version = api_version.rpartition("/")[2] if api_version else None
        return self.kube.resource_for_group(oid.group, oid.kind, version)

    def _get(self, oid: ObjectId, api_version: str = "") -> Live | None:
        try:
            resource = self._locate(oid, api_version)
        except NotFoundError:
            return None  # no version of the group serves the kind: none of it exists
        return self.kube.get_or_none(resource, oid.namespace or None, oid.name)

    def delete(
        self, ids: Iterable[ObjectId], lives: Mapping[ObjectId, Live | None] | None = None
    ) -> ChangeSet:
        """Delete objects, later stages first; ``lives`` as read before (read here if absent).

        Objects already gone are left out; each delete carries the uid it was read with, so an
        object re-created since is never removed by mistake. A deleted entry's ``live`` is the
        server's answer: the object as the delete left it (see :func:`still_there`).
        """
        wanted = set(ids)
        known = dict(lives) if lives is not None else self.read(wanted)
        result = ChangeSet()
        by_stage: dict[int, list[ObjectId]] = {}
        for oid in wanted:
            if known.get(oid) is not None:
                by_stage.setdefault(stage_of(oid), []).append(oid)
        for stage in sorted(by_stage, reverse=True):
            batch = sorted(by_stage[stage])
            with ThreadPoolExecutor(max_workers=self._workers(len(batch))) as pool:
                result.entries += pool.map(lambda oid: self._delete(oid, known[oid]), batch)
        return result

    def _delete(self, oid: ObjectId, live: Live | None) -> Change:
        uid = ((live or {}).get("metadata") or {}).get("uid")
        api_version = str((live or {}).get("apiVersion", ""))
        self.before_write(f"deleting {oid}")
        try:
            resource = self._locate(oid, api_version)
            answer = self.kube.delete(resource, oid.namespace or None, oid.name, uid=uid)
        except ApiError as exc:
            return Change(oid, Action.FAILED, live, str(exc), api_version)
        return Change(oid, Action.DELETED, answer, None, api_version)

    def _workers(self, count: int) -> int:
        return max(1, min(self.options.concurrency, count))


def still_there(answer: Live | None) -> bool:
    """Whether a delete's answer shows the object still there: marked for deletion, held by
    finalizers or a grace period. An object deleted at once comes back as it was (no
    deletion mark) or as a ``Status``."""
    if answer is None or answer.get("kind") == "Status":
        return False
    return bool((answer.get("metadata") or {}).get("deletionTimestamp"))


def _av(obj: Live) -> str:
    return str(obj.get("apiVersion", ""))
