"""ClusterStack / ClusterStackRelease status as CSO writes it, computed from one pass (pure).

ClusterStackRelease: ``resources[]`` (synced / not-synced with the error), ``kubernetesVersion``,
``ready``, conditions ``NodeImagesReady`` (releases with node images), ``HelmChartApplied`` and
``Ready``, plus the git ``revision``. A release whose node images are not ready is not ready:
its held-back class objects are not-synced and the conditions name the images it waits for.
ClusterStack: ``summary[]`` per release with phase, ``usableVersions`` (dot form, joined with
", " as CSO does, ready releases), ``latestRelease``, conditions
``ClusterStackReleasesSynced`` and ``Ready``, ``revision``, and csops's own ``keptInUse``
(releases gone from git that Clusters still use) and ``drift`` (objects put back after a change
outside git). A ClusterStack in the cluster but not in git gets only a ``ManagedFromGit=False``
condition saying how to add it.

Events go to the ClusterStack they concern: ``Synced`` (its objects a new revision changed),
``DriftCorrected`` (which objects were put back), ``Pruned`` (which were deleted) whenever a
pass did that; ``KeptInUse`` and ``SyncFailed`` with the status that says so.

:func:`compute` only decides; :func:`publish` hands the result to the
:class:`~csops.syncer.statuswriter.StatusWriter`, which writes a status only when it changed.

Why one long module: it is CSO's status format for two kinds, field by field, computed from
one pass; the drift record is in :mod:`csops.syncer.driftstatus`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from csops.renderer import RELEASES_ANNOTATION, RendererError, VersionError, parse_release_name
from csops.syncer import driftstatus
from csops.syncer.changeset import Action, Change
from csops.syncer.conditions import Condition, ResourceEntry, Severity, Sync, resource_entry
from csops.syncer.desired import DesiredObject
from csops.syncer.driftstatus import listed
from csops.syncer.events import EventType, Reason
from csops.syncer.nodeimages import NodeImageGate
from csops.syncer.objects import ObjectId, Reference

if TYPE_CHECKING:
    from csops.syncer.statuswriter import StatusWriter

GROUP = "clusterstack.x-k8s.io"
API_VERSION = f"{GROUP}/v1alpha1"
STACK_LABEL = "clusterstack.x-k8s.io/clusterstack"
MANAGED_CONDITION = "ManagedFromGit"
SYNC_TIME = "lastSyncTime"
"""When a pass last changed the ClusterStack's status (a revision, drift, prune, a failure)."""
"""At most this many objects are named in one Event or status field (then "and N more")."""


class Phase(StrEnum):
    """A release's phase in a ClusterStack's ``summary``."""

    DONE = "done"
    APPLYING = "applying objects"
    PROVIDER = "provider-specific work"
    """CSO's phase while a provider prepares a release; here: its node images are not ready."""


@dataclass(frozen=True)
class PassReport:
    """What the pass did, as status needs it."""

    revision: str
    changes: Mapping[ObjectId, Change]
    kept_in_use: Mapping[ObjectId, list[str]]
    summary: str
    kubernetes: Mapping[str, str] = field(default_factory=dict)
    """Release name → its Kubernetes version (from the release bundle's metadata)."""
    node_images: NodeImageGate = field(default_factory=NodeImageGate)
    """Which releases wait for their node images, and the class objects held back for them."""
    drifted: frozenset[ObjectId] = frozenset()
    """Objects changed or deleted outside git that this pass put back."""
    pruned: Mapping[ObjectId, str] = field(default_factory=dict)
    """Objects this pass deleted → the releases their annotation named."""
    now: str = ""
    """The pass's time (drift records carry it)."""


Event = tuple[Reason, str, EventType]


@dataclass(frozen=True)
class StatusUpdate:
    """One status to write, the Events recorded when it was written, and the Events recorded
    in any case (what the pass did to the objects)."""

    target: Reference
    status: dict[str, Any]
    live: dict[str, Any] | None = None
    events: tuple[Event, ...] = ()
    activity: tuple[Event, ...] = ()
    stamp: str | None = None
    """A field set to the time of the write (``lastSyncTime``)."""
    partial: bool = False
    """Only the fields given are csops's (a ClusterStack not managed from git)."""


@dataclass
class ReleaseStatus:
    name: str
    namespace: str
    resources: list[ResourceEntry] = field(default_factory=list)
    kubernetes_version: str = ""
    kept_by: list[str] = field(default_factory=list)
    node_images: bool = False
    """Whether the release has node-image objects (ORC images, a provider release object)."""
    waiting: str = ""
    """What the release waits for (its node images); empty when it waits for nothing."""

    @property
    def errors(self) -> list[str]:
        return [f"{r['kind']}/{r['name']}: {r['error']}" for r in self.resources if r.get("error")]

    @property
    def ready(self) -> bool:
        return not self.errors and not self.waiting

    def _conditions(self) -> list[Condition]:
        errors = "; ".join(self.errors)
        conditions = []
        if self.node_images:
            conditions.append(
                Condition.of("NodeImagesReady", not self.waiting, "ProcessOngoing", self.waiting)
            )
        if errors:
            applied = Condition.of("HelmChartApplied", False, "FailedToApplyObjects", errors)
            ready = Condition.of("Ready", False, "FailedToApplyObjects", errors)
        elif self.waiting:
            applied = Condition.of(
                "HelmChartApplied", False, "ObjectsApplyingOngoing", self.waiting
            )
            ready = Condition.of("Ready", False, "ProcessOngoing", self.waiting)
        else:
            applied, ready = Condition.of("HelmChartApplied", True), Condition.of("Ready", True)
        return [*conditions, applied, ready]

    def body(self, revision: str) -> dict[str, Any]:
        status: dict[str, Any] = {
            "resources": self.resources,
            "ready": self.ready,
            "conditions": [c.to_api() for c in self._conditions()],
            "revision": revision,
        }
        if self.kubernetes_version:
            status["kubernetesVersion"] = self.kubernetes_version
        return status


def release_names(objects: Sequence[DesiredObject], kept: Mapping[ObjectId, Any]) -> list[str]:
    """The ClusterStackReleases of the pass (desired and kept in use)."""
    ids = [o.id for o in objects] + list(kept)
    return sorted({oid.name for oid in ids if _is_release(oid)})


def _is_release(oid: ObjectId) -> bool:
    return oid.group == GROUP and oid.kind == "ClusterStackRelease"


def _version_key(release: str) -> tuple[int, str, str]:
    try:
        version = parse_release_name(release)[1]
    except (RendererError, VersionError, ValueError):
        return (-1, "", release)
    patch = version.patch.rjust(20, "0") if version.patch.isdigit() else version.patch
    return (version.major, version.channel, patch)


def _dot_name(release: str) -> str:
    """A release name in dot form (the ClusterClass name), as CSO's ``latestRelease`` shows it."""
    try:
        stack, version = parse_release_name(release)
    except (RendererError, VersionError, ValueError):
        return release
    return stack.class_name(version)


def _dot(release: str) -> str:
    try:
        return parse_release_name(release)[1].dot
    except (RendererError, VersionError, ValueError):
        return release


def releases_of(
    objects: Sequence[DesiredObject], report: PassReport
) -> dict[tuple[str, str], ReleaseStatus]:
    """Per (namespace, release): the objects that belong to it and how their apply went."""
    kept = report.kept_in_use
    releases: dict[tuple[str, str], ReleaseStatus] = {}
    for oid in [o.id for o in objects] + list(kept):
        if _is_release(oid):
            releases[(oid.namespace, oid.name)] = ReleaseStatus(
                oid.name,
                oid.namespace,
                [],
                report.kubernetes.get(oid.name, ""),
                list(kept.get(oid, [])),
                oid.name in report.node_images.with_images,
                report.node_images.message(oid.name),
            )
    for obj in objects:
        names = [r.strip() for r in obj.annotations.get(RELEASES_ANNOTATION, "").split(",")]
        for name in filter(None, names):
            entry = releases.get((obj.id.namespace, name))
            if entry is None or obj.id.kind == "ClusterStackRelease":
                continue
            version = obj.api_version.rpartition("/")[2]
            if obj.id in report.node_images.held:
                held = resource_entry(obj.id, version)
                entry.resources.append({**held, "status": str(Sync.NOT_SYNCED)})
                continue
            change = report.changes.get(obj.id)
            error = (change.error or "") if change and change.action == Action.FAILED else ""
            if change is None:
                error = "not applied"
            entry.resources.append(resource_entry(obj.id, version, error))
    for oid in kept:
        for (namespace, name), entry in releases.items():
            if (
                entry.kept_by
                and oid.namespace == namespace
                and oid.kind != "ClusterStackRelease"
                and oid.name.startswith(name)
            ):
                entry.resources.append(resource_entry(oid, None))
    return releases


def _phase(release: ReleaseStatus) -> Phase:
    if release.ready:
        return Phase.DONE
    return Phase.PROVIDER if release.waiting and not release.errors else Phase.APPLYING


def _stack_status(
    mine: list[ReleaseStatus], revision: str
) -> tuple[dict[str, Any], bool, list[ReleaseStatus]]:
    """A ClusterStack's status from its releases; whether it is Ready; the kept releases."""
    mine.sort(key=lambda r: _version_key(r.name))
    ready = [r for r in mine if r.ready]
    summary = []
    for r in mine:
        message = "; ".join([*r.errors, *([r.waiting] if r.waiting else [])])
        if r.kept_by:
            message = (
                (message + "; " if message else "") + "kept: in use by " + ", ".join(r.kept_by)
            )
        summary.append(
            {
                "name": _dot(r.name),
                "ready": r.ready,
                "phase": str(_phase(r)),
                **({"message": message} if message else {}),
            }
        )
    failed = [f"{r.name}: {'; '.join(r.errors)}" for r in mine if r.errors]
    waiting = [f"{r.name}: {r.waiting}" for r in mine if r.waiting and not r.errors]
    ok = bool(ready) and not failed
    synced = Condition.of(
        "ClusterStackReleasesSynced", not failed, "FailedToSync", "; ".join(failed)
    )
    kept = [r for r in mine if r.kept_by]
    status: dict[str, Any] = {
        "summary": summary,
        "usableVersions": ", ".join(_dot(r.name) for r in ready),
        "conditions": [
            synced.to_api(),
            Condition.of(
                "Ready",
                ok,
                "FailedToSync" if failed else "ProcessOngoing",
                "; ".join(failed or waiting) or "no ready release",
            ).to_api(),
        ],
        "revision": revision,
        "keptInUse": [{"release": r.name, "clusters": list(r.kept_by)} for r in kept],
    }
    if ready:
        latest = ready[-1]
        status["latestRelease"] = _dot_name(latest.name) + (
            f" | {latest.kubernetes_version}" if latest.kubernetes_version else ""
        )
    return status, ok, kept


class Ownership:
    """Which ClusterStack each object of a pass belongs to (its releases' stack, or itself)."""

    def __init__(self, objects: Sequence[DesiredObject], releases: Mapping[tuple[str, str], Any]):
        labels_of = {
            (o.id.namespace, o.id.name): (o.body.get("metadata") or {}).get("labels") or {}
            for o in objects
            if o.id.kind == "ClusterStackRelease"
        }
        self.stacks = sorted(
            o.id for o in objects if o.id.group == GROUP and o.id.kind == "ClusterStack"
        )
        self.release_stack: dict[tuple[str, str], ObjectId] = {}
        for namespace, name in releases:
            for stack in self.stacks:
                labels = labels_of.get((namespace, name))
                if stack.namespace == namespace and (
                    (labels or {}).get(STACK_LABEL) == stack.name
                    or (not labels and name.startswith(stack.name + "-"))
                ):
                    self.release_stack[(namespace, name)] = stack
        self.annotations = {o.id: o.annotations.get(RELEASES_ANNOTATION, "") for o in objects}

    def releases(self, stack: ObjectId) -> list[tuple[str, str]]:
        return [key for key, owner in self.release_stack.items() if owner == stack]

    def stacks_of(self, oid: ObjectId, releases_annotation: str | None = None) -> set[ObjectId]:
        """The ClusterStacks ``oid`` belongs to (``releases_annotation``: of a pruned one).

        A release the pass no longer knows (it was pruned) belongs to the ClusterStack its
        name starts with, as CSO names releases.
        """
        if oid.group == GROUP and oid.kind == "ClusterStack":
            return {oid}
        names = [oid.name] if _is_release(oid) else []
        value = (
            self.annotations.get(oid, "") if releases_annotation is None else releases_annotation
        )
        names += [r.strip() for r in value.split(",") if r.strip()]
        found = set()
        for name in names:
            owner = self.release_stack.get((oid.namespace, name))
            if owner is None:
                owner = next(
                    (
                        stack
                        for stack in self.stacks
                        if stack.namespace == oid.namespace and name.startswith(stack.name + "-")
                    ),
                    None,
                )
            if owner is not None:
                found.add(owner)
        return found


def _activity(stack: ObjectId, owners: Ownership, report: PassReport) -> list[Event]:
    """What the pass did to this ClusterStack's objects, as Events."""
    mine = [
        oid for oid, c in report.changes.items() if c.changed and stack in owners.stacks_of(oid)
    ]
    drifted = [oid for oid in mine if oid in report.drifted]
    applied = [oid for oid in mine if oid not in report.drifted]
    pruned = [
        oid for oid, releases in report.pruned.items() if stack in owners.stacks_of(oid, releases)
    ]
    events: list[Event] = []
    if applied:
        events.append(
            (
                Reason.SYNCED,
                f"revision {report.revision}: applied {len(applied)} object(s): {listed(applied)}",
                EventType.NORMAL,
            )
        )
    if drifted:
        events.append(driftstatus.event(drifted))
    if pruned:
        events.append(
            (
                Reason.PRUNED,
                f"deleted {len(pruned)} object(s) no longer in git: {listed(pruned)}",
                EventType.NORMAL,
            )
        )
    return events


def compute(
    objects: Sequence[DesiredObject],
    report: PassReport,
    live: Mapping[ObjectId, dict[str, Any] | None],
) -> list[StatusUpdate]:
    """Every ClusterStackRelease and ClusterStack status of the pass, releases first."""
    releases = releases_of(objects, report)
    updates = [
        StatusUpdate(
            Reference(API_VERSION, "ClusterStackRelease", namespace, name),
            entry.body(report.revision),
            live.get(ObjectId(GROUP, "ClusterStackRelease", namespace, name)),
        )
        for (namespace, name), entry in releases.items()
    ]
    owners = Ownership(objects, releases)
    for stack in owners.stacks:
        mine = [releases[key] for key in owners.releases(stack)]
        status, ok, kept = _stack_status(mine, report.revision)
        drifted = [
            oid
            for oid in report.drifted
            if report.changes.get(oid) and stack in owners.stacks_of(oid)
        ]
        status["drift"] = driftstatus.record(live.get(stack), drifted, report.now)
        if not status["drift"]:
            del status["drift"]
        events: list[Event] = []
        if not ok:
            failed = status["conditions"][1].get("message", "")
            events.append(
                (Reason.SYNC_FAILED, f"revision {report.revision}: {failed}", EventType.WARNING)
            )
        events += [
            (
                Reason.KEPT_IN_USE,
                f"release {r.name} removed from git but kept: in use by {', '.join(r.kept_by)}",
                EventType.WARNING,
            )
            for r in kept
        ]
        target = Reference(API_VERSION, "ClusterStack", stack.namespace, stack.name)
        updates.append(
            StatusUpdate(
                target,
                status,
                live.get(stack),
                tuple(events),
                tuple(_activity(stack, owners, report)),
                stamp=SYNC_TIME,
            )
        )
    return updates


def ready_of(updates: Sequence[StatusUpdate]) -> dict[tuple[str, str], bool]:
    """Each ClusterStack's ``Ready`` from the updates :func:`compute` made."""
    found = {}
    for update in updates:
        if update.target.kind == "ClusterStack":
            ready = [c for c in update.status["conditions"] if c["type"] == "Ready"]
            key = (update.target.namespace, update.target.name)
            found[key] = bool(ready) and ready[0]["status"] == "True"
    return found


def unmanaged(stacks: Sequence[dict[str, Any]], source: str) -> list[StatusUpdate]:
    """A ``ManagedFromGit=False`` condition for each ClusterStack that is not in git.

    Other controllers' conditions stay; ``Ready`` is set only where nobody else set it.
    """
    updates = []
    for stack in stacks:
        meta = stack.get("metadata") or {}
        name, namespace = str(meta.get("name", "")), str(meta.get("namespace", ""))
        message = (
            f"csops syncs ClusterStacks from git ({source}) and leaves this one alone: it is "
            f"never changed or deleted. To manage it, add it to the stacks repository as "
            f"clusterstacks/{name}.yaml (namespace {namespace}), then run csops render and "
            "commit"
        )
        managed = Condition(MANAGED_CONDITION, False, "NotInRepository", message, Severity.WARNING)
        old = [c for c in ((stack.get("status") or {}).get("conditions") or []) if c.get("type")]
        others = [c for c in old if c["type"] not in (MANAGED_CONDITION, "Ready")]
        ready = [c for c in old if c["type"] == "Ready"]
        if not ready or ready[0].get("reason") == "NotManagedFromGit":
            ready = [
                Condition(
                    "Ready", False, "NotManagedFromGit", "not in git: see ManagedFromGit"
                ).to_api()
            ]
        status = {"conditions": [*others, *ready, managed.to_api()]}
        target = Reference(API_VERSION, "ClusterStack", namespace, name)
        updates.append(StatusUpdate(target, status, stack, partial=True))
    return updates


def publish(writer: StatusWriter, updates: Sequence[StatusUpdate]) -> None:
    """Write each status that changed and record its Events; record every activity Event."""
    for update in updates:
        written = writer.write(
            update.target,
            update.status,
            live=update.live,
            stamp=update.stamp,
            partial=update.partial,
        )
        involved = update.live or update.target.skeleton()
        for reason, message, kind in (update.events if written else ()) + update.activity:
            writer.event(involved, reason, message, kind)
