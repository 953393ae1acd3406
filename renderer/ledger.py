"""The ledger of existing releases (``rendered/releases/*``) and the versions it implies.

Stable mode: a stack line's newest release is compared layer by layer with the source; any
change cuts ``v(N+1)``, and the addon and node-image component versions move only when their
layer changed. Hash mode: the version is ``v0-sha.<7>`` of the stack hash, as csctl prints it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from csops.renderer import archives, documents, schemas
from csops.renderer.custom import CustomVersions
from csops.renderer.errors import Problem, ProblemList, SourceError
from csops.renderer.hashes import StackHashes
from csops.renderer.names import NamingError, StackId, parse_release_name
from csops.renderer.versions import STABLE, Version, VersionError, hash_version

METADATA_FILE = "metadata.yaml"
HASHES_FILE = "hashes.json"
METADATA_API = "metadata.clusterstack.x-k8s.io/v1alpha1"


@dataclass(frozen=True)
class ReleaseVersions:
    """The versions in ``metadata.yaml``."""

    cluster_stack: Version
    cluster_addon: Version
    node_image: Version
    kubernetes: str

    def metadata(self) -> dict[str, object]:
        """The ``metadata.yaml`` document CSO reads."""
        return {
            "apiVersion": METADATA_API,
            "versions": {
                "clusterStack": self.cluster_stack.dot,
                "kubernetes": self.kubernetes,
                "components": {
                    "clusterAddon": self.cluster_addon.dot,
                    "nodeImage": self.node_image.dot,
                },
            },
        }


@dataclass(frozen=True)
class Release:
    """A release bundle that exists in the rendered tree."""

    name: str
    stack: StackId
    versions: ReleaseVersions
    hashes: StackHashes
    directory: Path
    display: str = ""

    @property
    def version(self) -> Version:
        """The cluster stack version (dot form is the ClusterClass suffix)."""
        return self.versions.cluster_stack

    @property
    def shown(self) -> str:
        """The bundle directory as users see it."""
        return self.display or str(self.directory)

    def class_chart(self) -> Path:
        """The class chart Helm renders: ``cluster-class/``, else CSO's class archive."""
        return archives.class_chart(
            self.directory, self.stack.class_archive(self.version), self.shown
        )

    def addon_root(self, new_convention: bool) -> Path | None:
        """``cluster-addon/`` unpacked (from CSO's addon archive if need be); ``None``: none."""
        return archives.addon_root(
            self.directory,
            self.stack.addon_archive(self.versions.cluster_addon),
            new_convention,
            self.shown,
        )


def read_metadata(path: Path, display: str, raw: bytes | None = None) -> ReleaseVersions:
    """``metadata.yaml`` of a release, checked as CSO checks it (every version parses);
    ``raw``: its bytes, already read."""
    if raw is None and not path.is_file():
        raise SourceError(Problem(display, "missing", hint="a release needs its metadata.yaml"))
    text = documents.read_text(path, display) if raw is None else documents.decode(raw, display)
    data = documents.loads_one(text, display)
    problems = schemas.validate("metadata", data, display, text)
    if problems:
        raise SourceError(problems)
    v = data["versions"]
    try:
        return ReleaseVersions(
            Version.parse(v["clusterStack"]),
            Version.parse(v["components"]["clusterAddon"]),
            Version.parse(v["components"]["nodeImage"]),
            v["kubernetes"],
        )
    except VersionError as exc:
        raise SourceError(Problem(display, str(exc), field="versions")) from exc


def read_release(
    directory: Path, display: str, files: Mapping[str, bytes] | None = None
) -> Release:
    """Read ``metadata.yaml`` and ``hashes.json`` of one release bundle (from ``files``, its
    files by path in the bundle, when they are already read)."""
    try:
        stack, version = parse_release_name(directory.name)
    except NamingError as exc:
        raise SourceError(
            Problem(display, str(exc), hint="release directories are named P-N-M-m-V")
        ) from exc
    meta_file = f"{display}/{METADATA_FILE}"
    if files is not None and METADATA_FILE not in files:
        raise SourceError(Problem(meta_file, "missing", hint="a release needs its metadata.yaml"))
    versions = read_metadata(
        directory / METADATA_FILE, meta_file, None if files is None else files[METADATA_FILE]
    )
    if versions.cluster_stack != version:
        raise SourceError(
            Problem(
                meta_file,
                f"clusterStack {versions.cluster_stack} does not "
                f"match the release name {directory.name}",
                field="versions.clusterStack",
            )
        )
    hashes_path = directory / HASHES_FILE
    hashes = StackHashes("")
    if hashes_path.is_file() if files is None else HASHES_FILE in files:
        hashes_file = f"{display}/{HASHES_FILE}"
        try:
            text = (
                documents.read_text(hashes_path, hashes_file)
                if files is None
                else documents.decode(files[HASHES_FILE], hashes_file)
            )
            hashes = StackHashes.from_json(text)
        except ValueError as exc:
            raise SourceError(
                Problem(hashes_file, f"is not a hashes.json: {exc}", hint="restore it from git")
            ) from exc
    return Release(directory.name, stack, versions, hashes, directory, display)


def read_ledger(
    releases_dir: Path, display: str, files: Mapping[str, bytes] | None = None
) -> dict[str, Release]:
    """Every release bundle under ``releases_dir`` by name; ``files``: the files below it by
    relative path, when they are already read (the rendered tree is)."""
    if not releases_dir.is_dir():
        return {}
    bundles: dict[str, dict[str, bytes]] = {}
    for path, data in (files or {}).items():
        name, _, rel = path.partition("/")
        bundles.setdefault(name, {})[rel] = data
    problems = ProblemList()
    ledger: dict[str, Release] = {}
    for directory in sorted(p for p in releases_dir.iterdir() if p.is_dir()):
        try:
            release = read_release(
                directory,
                f"{display}/{directory.name}",
                None if files is None else bundles.get(directory.name, {}),
            )
        except SourceError as exc:
            problems.extend(exc.problems)
            continue
        ledger[release.name] = release
    problems.raise_if_any()
    return ledger


def releases_of(ledger: dict[str, Release], stack: StackId, channel: str = STABLE) -> list[Release]:
    """Releases of one stack line in one channel, oldest first (numeric order)."""
    found = [r for r in ledger.values() if r.stack == stack and r.version.channel == channel]
    return sorted(found, key=lambda r: r.version)


@dataclass(frozen=True)
class Plan:
    """What a source means for the ledger: an existing release, or a new one to cut."""

    versions: ReleaseVersions
    existing: Release | None


def _same_state(release: Release, hashes: StackHashes, kubernetes: str) -> bool:
    return release.hashes.release_key() == hashes.release_key() and (
        release.versions.kubernetes == kubernetes
    )


def plan(
    stack: StackId,
    kubernetes: str,
    hashes: StackHashes,
    ledger: dict[str, Release],
    mode: str,
    *,
    custom: CustomVersions | None = None,
) -> Plan:
    """Decide the version of the source's current state.

    Custom mode without versions for this stack finds the release of this state, or none
    (``versions`` is then meaningless and the caller reports it).
    """
    if mode == "custom":
        if custom is None:
            same = [r for r in ledger.values() if r.stack == stack]
            found = next((r for r in same if _same_state(r, hashes, kubernetes)), None)
            first = Version(1)
            return Plan(
                found.versions if found else ReleaseVersions(first, first, first, kubernetes),
                found,
            )
        versions = ReleaseVersions(
            custom.cluster_stack, custom.cluster_addon, custom.node_image, kubernetes
        )
        return Plan(versions, ledger.get(stack.release_name(custom.cluster_stack)))
    if mode == "hash":
        version = hash_version(hashes.clusterStack)
        existing = ledger.get(stack.release_name(version))
        return Plan(ReleaseVersions(version, version, version, kubernetes), existing)
    line = releases_of(ledger, stack)
    if not line:
        first = Version(1)
        return Plan(ReleaseVersions(first, first, first, kubernetes), None)
    latest = line[-1]
    if _same_state(latest, hashes, kubernetes):
        return Plan(latest.versions, latest)
    previous = latest.versions
    return Plan(
        ReleaseVersions(
            previous.cluster_stack.bumped(),
            previous.cluster_addon.bumped()
            if hashes.addon_changed(latest.hashes)
            else previous.cluster_addon,
            previous.node_image.bumped()
            if hashes.node_image_changed(latest.hashes)
            else previous.node_image,
            kubernetes,
        ),
        None,
    )
