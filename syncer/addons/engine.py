"""Executes addon stages in a workload cluster: Pending → waitingForPreCondition →
applyingOrDeleting → waitingForPostCondition → done.

``apply`` renders the release's chart (and the same chart of the previous release), applies
the new objects (server-side, field manager ``csops``, only what differs; CRDs and Namespaces
first, CRDs waited on until Established) and deletes objects of the old render missing from
the new one. ``delete`` renders the chart without overwrite values and deletes its objects.
A stage whose condition is not met stops the run; the next reconcile resumes there.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from csops.renderer import Condition, Stage
from csops.syncer.addons import charts, conditions
from csops.syncer.addons.charts import ClusterContext
from csops.syncer.addons.errors import AddonError
from csops.syncer.addons.releases import ReleaseBundle
from csops.syncer.apply import FAILED, Applier
from csops.syncer.errors import ApiError, LeadershipLostError, NotFoundError
from csops.syncer.kube import Kube
from csops.syncer.objects import ObjectId, Resource

PENDING = "Pending"
WAITING_PRE = "waitingForPreCondition"
APPLYING = "applyingOrDeleting"
WAITING_POST = "waitingForPostCondition"
DONE = "done"
DEFAULT_NAMESPACE = "kube-system"
SYNCED, NOT_SYNCED = "synced", "not-synced"
CRD_TIMEOUT = 30.0
FIRST_KINDS = ("CustomResourceDefinition", "Namespace")


@dataclass
class Record:
    """One workload object csops applied (or failed to), as ClusterAddon ``status.resources``."""

    id: ObjectId
    version: str
    error: str = ""

    def status(self) -> dict[str, Any]:
        entry = {
            "group": self.id.group,
            "version": self.version,
            "kind": self.id.kind,
            "namespace": self.id.namespace,
            "name": self.id.name,
            "status": NOT_SYNCED if self.error else SYNCED,
        }
        if self.error:
            entry["error"] = self.error[:500]
        return entry


@dataclass
class Progress:
    """Where a run stands after :meth:`StageEngine.run`."""

    phases: list[str]
    records: dict[ObjectId, Record] = field(default_factory=dict)
    waiting: str = ""  # a condition is not met yet (message)
    cel_error: str = ""  # a condition could not be evaluated (message)
    cel_reason: str = ""
    failed: list[str] = field(default_factory=list)  # apply/delete errors
    deleted: list[ObjectId] = field(default_factory=list)
    missing_charts: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return all(p == DONE for p in self.phases) and not self.failed


def object_id(obj: dict[str, Any], resource: Resource) -> ObjectId:
    meta = obj.get("metadata") or {}
    namespace = str(meta.get("namespace") or DEFAULT_NAMESPACE) if resource.namespaced else ""
    return ObjectId(resource.group, resource.kind, namespace, str(meta["name"]))


class Workload:
    """Apply and delete sets of objects in one workload cluster."""

    def __init__(self, kube: Kube, may_write: Callable[[], bool] | None = None) -> None:
        self.kube = kube
        self.applier = Applier(kube, concurrency=4)
        self.may_write = may_write or (lambda: True)

    def _before_write(self, what: str) -> None:
        """Stop before writing when this replica no longer holds the Lease."""
        if not self.may_write():
            raise LeadershipLostError(f"lost leadership; stopped before {what}")

    def resolve(self, obj: dict[str, Any]) -> tuple[ObjectId, Resource, dict[str, Any]]:
        resource = self.kube.resource(str(obj["apiVersion"]), str(obj["kind"]))
        body = dict(obj)
        meta = dict(body.get("metadata") or {})
        if resource.namespaced:
            meta["namespace"] = meta.get("namespace") or DEFAULT_NAMESPACE
        else:
            meta.pop("namespace", None)
        body["metadata"] = meta
        return object_id(body, resource), resource, body

    def apply(self, objects: list[dict[str, Any]]) -> dict[ObjectId, Record]:
        """Apply ``objects`` (first kinds first, CRDs waited on); only what differs is sent."""
        records: dict[ObjectId, Record] = {}
        first = [o for o in objects if o.get("kind") in FIRST_KINDS]
        rest = [o for o in objects if o.get("kind") not in FIRST_KINDS]
        for batch in (first, rest):
            if not batch:
                continue
            items = []
            for obj in batch:
                version = str(obj.get("apiVersion", "")).rpartition("/")[2]
                try:
                    oid, resource, body = self.resolve(obj)
                    live = self.kube.get_or_none(resource, oid.namespace or None, oid.name)
                except ApiError as exc:
                    meta = obj.get("metadata") or {}
                    oid = ObjectId(
                        str(obj.get("apiVersion", "")).rpartition("/")[0],
                        str(obj.get("kind", "")),
                        str(meta.get("namespace") or ""),
                        str(meta.get("name", "")),
                    )
                    records[oid] = Record(oid, version, str(exc))
                    continue
                items.append((oid, resource, body, live))
                records[oid] = Record(oid, version)
            self._before_write(f"applying {len(items)} objects")
            for outcome in self.applier.apply(items):
                if outcome.action == FAILED:
                    records[outcome.id].error = outcome.error or "apply failed"
            crds = [o for o in batch if o.get("kind") == "CustomResourceDefinition"]
            for crd in crds:
                error = self._wait_established(str(crd["metadata"]["name"]))
                if error:
                    oid = next(k for k in records if k.name == crd["metadata"]["name"])
                    records[oid].error = error
        return records

    def _wait_established(self, name: str) -> str:
        resource = self.kube.resource("apiextensions.k8s.io/v1", "CustomResourceDefinition")
        deadline = time.monotonic() + CRD_TIMEOUT
        delay = 0.05
        while time.monotonic() < deadline:
            live = self.kube.get_or_none(resource, None, name) or {}
            for cond in (live.get("status") or {}).get("conditions") or []:
                if cond.get("type") == "Established" and cond.get("status") == "True":
                    return ""
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        return f"CRD {name} not Established within {CRD_TIMEOUT:.0f}s"

    def ids(self, objects: Iterable[dict[str, Any]]) -> set[ObjectId]:
        """Identities of rendered objects (kinds the server does not know are skipped)."""
        found = set()
        for obj in objects:
            try:
                found.add(self.resolve(obj)[0])
            except NotFoundError:
                continue
        return found

    def delete(self, ids: Iterable[ObjectId]) -> tuple[list[ObjectId], list[str]]:
        """Delete objects by identity; gone or unknown kinds count as deleted."""
        deleted, errors = [], []
        for oid in sorted(ids):
            self._before_write(f"deleting {oid}")
            try:
                resource = self.kube.resource_for_group(oid.group, oid.kind)
                if self.kube.delete(resource, oid.namespace or None, oid.name):
                    deleted.append(oid)
            except NotFoundError:
                continue
            except ApiError as exc:
                errors.append(f"delete {oid}: {exc}")
        return deleted, errors


class StageEngine:
    """Runs the stages of one plan for one cluster, resuming from recorded phases."""

    def __init__(
        self,
        workload: Workload,
        context: ClusterContext,
        new: ReleaseBundle,
        old: ReleaseBundle | None,
        on_phase: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.workload = workload
        self.context = context
        self.new = new
        self.old = old
        self.on_phase = on_phase or (lambda phases: None)

    def run(self, stages: tuple[Stage, ...], phases: list[str]) -> Progress:
        progress = Progress(list(phases))
        for i, stage in enumerate(stages):
            if progress.phases[i] == DONE:
                continue
            pending = progress.phases[i] in (PENDING, WAITING_PRE)
            if (
                pending
                and stage.pre is not None
                and not self._condition(stage.pre, "Pre", progress)
            ):
                self._set(progress, i, WAITING_PRE)
                return progress
            if progress.phases[i] in (PENDING, WAITING_PRE, APPLYING):
                self._set(progress, i, APPLYING)
                if stage.name not in self.new.charts:
                    # CSO: a stage without chart is reported (HelmChartFound) and skipped
                    progress.missing_charts.append(stage.name)
                elif stage.action == "delete":
                    self._delete(stage, progress)
                else:
                    self._apply(stage, progress)
                if progress.failed:
                    return progress
            if stage.post is not None and not self._condition(stage.post, "Post", progress):
                self._set(progress, i, WAITING_POST)
                return progress
            self._set(progress, i, DONE)
        return progress

    def _set(self, progress: Progress, index: int, phase: str) -> None:
        if progress.phases[index] != phase:
            progress.phases[index] = phase
            self.on_phase(list(progress.phases))

    def _condition(self, condition: Condition, which: str, progress: Progress) -> bool:
        verdict = conditions.check(condition, self.workload.kube)
        if verdict.met:
            return True
        if verdict.error:
            progress.cel_error = verdict.message
            progress.cel_reason = f"FailedToEvaluate{which}Condition"
        progress.waiting = f"{which.lower()}-condition: {verdict.message}"
        return False

    def _apply(self, stage: Stage, progress: Progress) -> None:
        objects = charts.render(self.new, stage.name, self.context)
        records = self.workload.apply(objects)
        progress.records.update(records)
        progress.failed.extend(f"apply {r.id}: {r.error}" for r in records.values() if r.error)
        if self.old is not None and stage.name in self.old.charts:
            try:
                old_objects = charts.render(self.old, stage.name, self.context)
            except AddonError as exc:
                progress.failed.append(f"previous release: {exc}")
                return
            gone = self.workload.ids(old_objects) - set(records)
            deleted, errors = self.workload.delete(gone)
            progress.deleted.extend(deleted)
            progress.failed.extend(errors)

    def _delete(self, stage: Stage, progress: Progress) -> None:
        objects = charts.render(self.new, stage.name, self.context, with_values=False)
        ids = self.workload.ids(objects)
        deleted, errors = self.workload.delete(ids)
        for oid in ids:
            progress.records.pop(oid, None)
        progress.deleted.extend(deleted)
        progress.failed.extend(errors)
