"""The syncer as controller of ClusterStack / ClusterStackRelease status, the way CSO writes it.

ClusterStackRelease: ``resources[]`` (synced / not-synced with the error), ``kubernetesVersion``,
``ready``, conditions ``HelmChartApplied`` and ``Ready``, plus the git ``revision``.
ClusterStack: ``summary[]`` per release with phase, ``usableVersions`` (dot form, comma-joined,
ready releases), ``latestRelease``, conditions ``ClusterStackReleasesSynced`` and ``Ready``,
``revision``. A status is written only when it differs from the live one; Events are emitted
on changes only, so a steady state costs no writes.
"""

from __future__ import annotations

import datetime
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

from csops.renderer import RELEASES_ANNOTATION, RendererError, VersionError, parse_release_name
from csops.syncer.apply import FAILED
from csops.syncer.errors import ApiError
from csops.syncer.kube import Kube
from csops.syncer.objects import ObjectId
from csops.syncer.source import Revision

if TYPE_CHECKING:
    from csops.syncer.desired import DesiredObject
    from csops.syncer.reconcile import SyncResult

GROUP = "clusterstack.x-k8s.io"
STACK_LABEL = "clusterstack.x-k8s.io/clusterstack"
PHASE_DONE = "done"
PHASE_APPLYING = "applying objects"


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(ctype: str, ok: bool, reason: str = "", message: str = "") -> dict[str, Any]:
    cond: dict[str, Any] = {"type": ctype, "status": "True" if ok else "False"}
    if not ok:
        cond.update(severity="Error", reason=reason, message=message[:1000])
    return cond


def with_transition_times(
    new: list[dict[str, Any]], old: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """Keep ``lastTransitionTime`` where a condition's status did not change."""
    before = {c.get("type"): c for c in old or []}
    for cond in new:
        prev = before.get(cond["type"])
        if prev and prev.get("status") == cond["status"] and prev.get("lastTransitionTime"):
            cond["lastTransitionTime"] = prev["lastTransitionTime"]
        else:
            cond["lastTransitionTime"] = _now()
    return new


def _strip_times(status: dict[str, Any]) -> dict[str, Any]:
    conds = [
        {k: v for k, v in c.items() if k != "lastTransitionTime"}
        for c in status.get("conditions") or []
    ]
    return {**status, "conditions": conds}


@dataclass
class ReleaseStatus:
    name: str
    namespace: str
    resources: list[dict[str, Any]] = field(default_factory=list)
    kubernetes_version: str = ""
    kept_by: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        return [f"{r['kind']}/{r['name']}: {r['error']}" for r in self.resources if r.get("error")]

    @property
    def ready(self) -> bool:
        return not self.errors

    def body(self, revision: str) -> dict[str, Any]:
        errors = self.errors
        message = "; ".join(errors)
        applied = condition("HelmChartApplied", not errors, "FailedToApplyObjects", message)
        ready = condition("Ready", not errors, "FailedToApplyObjects", message)
        status: dict[str, Any] = {
            "resources": self.resources,
            "ready": self.ready,
            "conditions": [applied, ready],
            "revision": revision,
        }
        if self.kubernetes_version:
            status["kubernetesVersion"] = self.kubernetes_version
        return status


def _kubernetes_version(revision: Revision, release: str) -> str:
    path = revision.rendered_root / "releases" / release / "metadata.yaml"
    try:
        data = yaml.safe_load(path.read_text())
        return str(((data or {}).get("versions") or {}).get("kubernetes") or "")
    except (OSError, yaml.YAMLError):
        return ""


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
    objects: list[DesiredObject], result: SyncResult, revision: Revision
) -> dict[tuple[str, str], ReleaseStatus]:
    """Per (namespace, release): the objects that belong to it and how their apply went."""
    outcomes = {o.id: o for o in result.outcomes}
    kept = result.prune.kept_in_use if result.prune else {}
    releases: dict[tuple[str, str], ReleaseStatus] = {}
    for oid in [o.id for o in objects] + list(kept):
        if oid.group == GROUP and oid.kind == "ClusterStackRelease":
            releases[(oid.namespace, oid.name)] = ReleaseStatus(
                oid.name,
                oid.namespace,
                [],
                _kubernetes_version(revision, oid.name),
                kept.get(oid, []),
            )
    for obj in objects:
        names = [r.strip() for r in obj.annotations.get(RELEASES_ANNOTATION, "").split(",")]
        for name in filter(None, names):
            entry = releases.get((obj.id.namespace, name))
            if entry is None or obj.id.kind == "ClusterStackRelease":
                continue
            outcome = outcomes.get(obj.id)
            error = (outcome.error or "") if outcome and outcome.action == FAILED else ""
            if outcome is None:
                error = "not applied"
            version = obj.api_version.rpartition("/")[2]
            entry.resources.append(
                {
                    "group": obj.id.group,
                    "version": version,
                    "kind": obj.id.kind,
                    "namespace": obj.id.namespace,
                    "name": obj.id.name,
                    "status": "not-synced" if error else "synced",
                    **({"error": error} if error else {}),
                }
            )
    for oid in kept:
        for (namespace, name), entry in releases.items():
            if (
                entry.kept_by
                and oid.namespace == namespace
                and oid.kind != "ClusterStackRelease"
                and oid.name.startswith(name)
            ):
                entry.resources.append(
                    {
                        "group": oid.group,
                        "kind": oid.kind,
                        "namespace": oid.namespace,
                        "name": oid.name,
                        "status": "synced",
                    }
                )
    return releases


class StatusWriter:
    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self.errors: list[str] = []

    def write(
        self,
        api_version: str,
        kind: str,
        ref: tuple[str, str],
        status: dict[str, Any],
        *,
        live: dict[str, Any] | None,
    ) -> bool:
        """Apply ``status`` to ``ref`` (namespace, name) when it differs; True when written."""
        namespace, name = ref
        try:
            resource = self.kube.resource(api_version, kind)
            if live is None:
                live = self.kube.get_or_none(resource, namespace, name)
            if live is None:
                return False
            old = live.get("status") or {}
            status["conditions"] = with_transition_times(
                status["conditions"], old.get("conditions")
            )
            before = {k: old[k] for k in status if k in old}
            before.setdefault("conditions", [])
            if _strip_times(status) == _strip_times(before) and set(old) <= set(status):
                return False
            self.kube.apply_status(
                resource,
                {
                    "apiVersion": api_version,
                    "kind": kind,
                    "metadata": {"name": name, "namespace": namespace},
                    "status": status,
                },
            )
        except ApiError as exc:
            self.errors.append(f"status of {kind} {namespace}/{name}: {exc}")
            return False
        return True

    def event(
        self, involved: dict[str, Any], reason: str, message: str, kind: str = "Normal"
    ) -> None:
        meta = involved.get("metadata") or {}
        now = _now()
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "generateName": f"{meta.get('name')}.",
                "namespace": meta.get("namespace"),
            },
            "involvedObject": {
                "apiVersion": involved.get("apiVersion"),
                "kind": involved.get("kind"),
                "name": meta.get("name"),
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
            },
            "reason": reason,
            "message": message[:1024],
            "type": kind,
            "source": {"component": "csops"},
            "reportingComponent": "csops",
            "reportingInstance": socket.gethostname(),
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            self.kube.create_event(str(meta.get("namespace")), body)
        except ApiError as exc:
            self.errors.append(f"event on {meta.get('name')}: {exc}")


def publish(
    kube: Kube,
    objects: list[DesiredObject],
    result: SyncResult,
    live: dict[ObjectId, dict[str, Any] | None],
    revision: Revision,
) -> list[str]:
    """Write CSR and ClusterStack status for this pass; returns problems (never raises)."""
    writer = StatusWriter(kube)
    releases = releases_of(objects, result, revision)
    api_version = f"{GROUP}/v1alpha1"
    for (namespace, name), entry in releases.items():
        oid = ObjectId(GROUP, "ClusterStackRelease", namespace, name)
        writer.write(
            api_version,
            "ClusterStackRelease",
            (namespace, name),
            entry.body(revision.name),
            live=live.get(oid),
        )
    labels_of = {
        (o.id.namespace, o.id.name): (o.body.get("metadata") or {}).get("labels") or {}
        for o in objects
        if o.id.kind == "ClusterStackRelease"
    }
    for obj in objects:
        if obj.id.group != GROUP or obj.id.kind != "ClusterStack":
            continue
        mine = [
            r
            for (ns, name), r in releases.items()
            if ns == obj.id.namespace
            and (
                labels_of.get((ns, name), {}).get(STACK_LABEL) == obj.id.name
                or (not labels_of.get((ns, name)) and name.startswith(obj.id.name + "-"))
            )
        ]
        mine.sort(key=lambda r: _version_key(r.name))
        ready = [r for r in mine if r.ready]
        summary = []
        for r in mine:
            message = "; ".join(r.errors)
            if r.kept_by:
                message = (
                    (message + "; " if message else "") + "kept: in use by " + ", ".join(r.kept_by)
                )
            summary.append(
                {
                    "name": _dot(r.name),
                    "ready": r.ready,
                    "phase": PHASE_DONE if r.ready else PHASE_APPLYING,
                    **({"message": message} if message else {}),
                }
            )
        failed = [f"{r.name}: {'; '.join(r.errors)}" for r in mine if not r.ready]
        synced = condition(
            "ClusterStackReleasesSynced", not failed, "FailedToSync", "; ".join(failed)
        )
        ok = bool(ready) and not failed
        status: dict[str, Any] = {
            "summary": summary,
            "usableVersions": ",".join(_dot(r.name) for r in ready),
            "conditions": [
                synced,
                condition("Ready", ok, "FailedToSync", "; ".join(failed) or "no ready release"),
            ],
            "revision": revision.name,
        }
        if ready:
            latest = ready[-1]
            status["latestRelease"] = _dot_name(latest.name) + (
                f" | {latest.kubernetes_version}" if latest.kubernetes_version else ""
            )
        current = live.get(obj.id)
        if writer.write(
            api_version, "ClusterStack", (obj.id.namespace, obj.id.name), status, live=current
        ):
            target = current or {
                "apiVersion": api_version,
                "kind": "ClusterStack",
                "metadata": {"name": obj.id.name, "namespace": obj.id.namespace},
            }
            writer.event(
                target,
                "Synced" if ok else "SyncFailed",
                f"revision {revision.name}: {result.summary()}",
                "Normal" if ok else "Warning",
            )
            kept = [r for r in mine if r.kept_by]
            for r in kept:
                writer.event(
                    target,
                    "KeptInUse",
                    f"release {r.name} removed from git but kept: in use by {', '.join(r.kept_by)}",
                    "Warning",
                )
    return writer.errors
