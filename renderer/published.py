"""Releases as published, imported into ``rendered/releases/`` as immutable bundles.

A published release is what csctl uploads (a GitHub release, an OCI artifact) and what CSO
keeps under ``<release-dir>/cluster-stacks/<tag>/``: ``metadata.yaml``, the class archive
``P-N-M-m-cluster-class-V.tgz`` (``helm package`` output), the addon archive
``P-N-M-m-cluster-addon-V.tgz`` (a packaged chart, or with ``clusteraddon.yaml`` a tar of
one chart per addon), and maybe ``hashes.json``, ``cluster-addon-values.yaml`` and
``node-images.yaml``. A bundle csops wrote has the same files plus the charts unpacked.

An import checks what CSO checks and what csops needs to render the release like one it cut:
the files are there, names and versions agree (directory, ``metadata.yaml``, archive names
and the charts inside), unpacked charts match their archives, the class chart renders its
ClusterClass. It then writes the published files unchanged, plus the charts unpacked with
absent dependencies vendored, so the release renders offline like any other. An import never
changes a release that exists; a bad one writes nothing.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from csops.renderer import addons, archives, clusterclass, dependencies, helm, manifests, tree
from csops.renderer.config import load_config
from csops.renderer.errors import (
    ImmutableReleaseError,
    Problem,
    ProblemList,
    RendererError,
    SourceError,
)
from csops.renderer.ledger import HASHES_FILE, METADATA_FILE, ReleaseVersions, read_metadata
from csops.renderer.names import KubernetesVersion, NamingError, StackId, parse_release_name

RELEASES_DIR = "releases"
CONFIG_FILES = (
    HASHES_FILE,
    addons.ADDON_CONFIG,
    addons.ADDON_VALUES,
    "node-images.yaml",
    "image.yaml",
)
CLUSTER_STACKS_DIR = "cluster-stacks"
"""CSO's ``--release-dir`` holds releases under ``cluster-stacks/<tag>/``."""


@dataclass
class Imported:
    """One release of an import: where it goes, whether it was new, what was left out."""

    name: str
    source: str
    files: dict[str, bytes]
    published: list[str] = field(default_factory=list)
    """The published files (metadata, archives, configuration) among ``files``."""
    ignored: list[str] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    written: bool = False


def release_dirs(path: Path) -> list[Path]:
    """The releases under ``path``: itself, its subdirectories, or CSO's ``cluster-stacks/``."""
    if (path / METADATA_FILE).is_file():
        return [path]
    base = path / CLUSTER_STACKS_DIR if (path / CLUSTER_STACKS_DIR).is_dir() else path
    found = (
        sorted(p for p in base.iterdir() if (p / METADATA_FILE).is_file()) if base.is_dir() else []
    )
    if not found:
        raise SourceError(
            Problem(
                str(path),
                "holds no release (no metadata.yaml in it or in its subdirectories)",
                hint="pass a directory of release assets, or a directory of such directories",
            )
        )
    return found


def _stack_of(directory: Path, versions: ReleaseVersions, display: str) -> StackId:
    """Provider, name and minor from the class archive's name (``P-N-M-m-cluster-class-V``)."""
    suffix = f"-cluster-class-{versions.cluster_stack.dot}.tgz"
    archives_ = sorted(p.name for p in directory.glob(f"*{suffix}") if p.is_file())
    if len(archives_) != 1:
        found = sorted(p.name for p in directory.glob("*-cluster-class-*.tgz"))
        raise SourceError(
            Problem(
                display,
                f"incomplete: no class chart archive P-N-M-m{suffix}"
                if not archives_
                else f"holds several class chart archives: {', '.join(archives_)}",
                hint=f"metadata.yaml says clusterStack {versions.cluster_stack.dot}; archives "
                f"present: {', '.join(found) or 'none'}",
            )
        )
    prefix = archives_[0].removesuffix(suffix)
    parts = prefix.split("-")
    problem = Problem(
        f"{display}/{archives_[0]}",
        f"{prefix!r} is not P-N-M-m (provider, stack name, Kubernetes major and minor)",
    )
    if len(parts) != 4 or not (parts[2].isdigit() and parts[3].isdigit()):
        raise SourceError(problem)
    stack = StackId(parts[0], parts[1], int(parts[2]), int(parts[3]))
    try:
        stack.check()
    except NamingError as exc:
        raise SourceError(Problem(problem.file, str(exc))) from exc
    return stack


def _check_names(
    directory: Path, stack: StackId, versions: ReleaseVersions, display: str
) -> list[Problem]:
    problems = ProblemList()
    name = stack.release_name(versions.cluster_stack)
    try:
        named, _ = parse_release_name(directory.name)
    except NamingError:
        named = None
    if named is not None and directory.name != name:
        problems.add(
            display,
            f"inconsistent: the directory is named {directory.name}, but metadata.yaml and the "
            f"class archive make it {name}",
        )
    try:
        kubernetes = KubernetesVersion.parse(versions.kubernetes)
        if (kubernetes.major, kubernetes.minor) != (stack.major, stack.minor):
            problems.add(
                f"{display}/{METADATA_FILE}",
                f"inconsistent: Kubernetes {versions.kubernetes} is not of the minor "
                f"{stack.major}.{stack.minor} the archives are named for",
                field="versions.kubernetes",
            )
    except NamingError as exc:
        problems.add(f"{display}/{METADATA_FILE}", str(exc), field="versions.kubernetes")
    if not (directory / stack.addon_archive(versions.cluster_addon)).is_file():
        problems.add(
            display,
            f"incomplete: no addon archive {stack.addon_archive(versions.cluster_addon)}",
            hint="CSO needs it (a release without addons still ships an empty one)",
        )
    return problems.problems


def _check_chart(
    chart: Path, name: str, version: str, where: str, problems: ProblemList
) -> dict[str, object]:
    summary = helm.chart_summary(chart)
    meta = summary["metadata"]
    assert isinstance(meta, dict)
    if meta.get("name") != name or str(meta.get("version")) != version:
        problems.add(
            where,
            f"inconsistent: holds chart {meta.get('name')} {meta.get('version')}, "
            f"expected {name} {version}",
        )
    return summary


def _same_chart(unpacked: Path, archived: dict[str, object], where: str) -> list[Problem]:
    """An unpacked chart must render what its archive renders (vendored dependencies aside)."""
    mine = helm.chart_summary(unpacked)
    differs = [k for k in ("metadata", "values", "templates", "crds") if mine[k] != archived[k]]
    subcharts = archived["subcharts"]
    assert isinstance(subcharts, dict)
    held = mine["subcharts"]
    assert isinstance(held, dict)
    if any(held.get(k) != v for k, v in subcharts.items()):
        differs.append("subcharts")
    if not differs:
        return []
    return [
        Problem(
            where,
            f"inconsistent: the unpacked chart differs from its archive ({', '.join(differs)})",
            hint="a bundle's unpacked charts must be what its archives hold",
        )
    ]


def _unpack_class(
    directory: Path, stack: StackId, versions: ReleaseVersions, work: Path, display: str
) -> list[Problem]:
    problems = ProblemList()
    archive = directory / stack.class_archive(versions.cluster_stack)
    summary = _check_chart(
        archive,
        stack.class_chart,
        versions.cluster_stack.dot,
        f"{display}/{archive.name}",
        problems,
    )
    unpacked = directory / archives.CLASS_DIR
    target = work / archives.CLASS_DIR
    if unpacked.is_dir():
        problems.extend(_same_chart(unpacked, summary, f"{display}/{archives.CLASS_DIR}"))
        shutil.copytree(unpacked, target)
    else:
        scratch = work / ".class"
        archives.unpack(archive, scratch, f"{display}/{archive.name}")
        tops = [p for p in scratch.iterdir() if p.is_dir()]
        if len(tops) != 1:
            problems.add(f"{display}/{archive.name}", "is not a packaged chart (one top directory)")
        else:
            tops[0].rename(target)
        shutil.rmtree(scratch)
    return problems.problems


def _unpack_addons(
    directory: Path, stack: StackId, versions: ReleaseVersions, work: Path, display: str
) -> list[Problem]:
    problems = ProblemList()
    archive = directory / stack.addon_archive(versions.cluster_addon)
    new = (directory / addons.ADDON_CONFIG).is_file()
    where = f"{display}/{archive.name}"
    scratch = work / ".addons"
    archives.unpack(archive, scratch, where)
    if new:
        charts = {p.name: p for p in scratch.iterdir() if (p / "Chart.yaml").is_file()}
        root = scratch
    else:
        tops = [p for p in scratch.iterdir() if p.is_dir()]
        if len(tops) != 1:
            problems.add(where, "is not a packaged chart, and there is no clusteraddon.yaml")
            return problems.problems
        _check_chart(tops[0], stack.addon_chart, versions.cluster_addon.dot, where, problems)
        charts = {archives.ADDON_DIR: tops[0]}
        root = tops[0]
    unpacked = directory / archives.ADDON_DIR
    if unpacked.is_dir():
        if new:
            extra = sorted(
                p.name for p in unpacked.iterdir() if p.is_dir() and p.name not in charts
            )
            if extra:
                problems.add(
                    f"{display}/{archives.ADDON_DIR}",
                    f"inconsistent: holds {', '.join(extra)}, which the addon archive does not",
                )
        for name, chart in charts.items():
            mine = unpacked if not new else unpacked / name
            shown = f"{display}/{archives.ADDON_DIR}" + (f"/{name}" if new else "")
            if not (mine / "Chart.yaml").is_file():
                problems.add(shown, "inconsistent: missing, but the addon archive has it")
                continue
            problems.extend(_same_chart(mine, helm.chart_summary(chart), shown))
        shutil.copytree(unpacked, work / archives.ADDON_DIR)
        shutil.rmtree(scratch)
    else:
        root.rename(work / archives.ADDON_DIR)
        shutil.rmtree(scratch, ignore_errors=True)
    return problems.problems


def _vendor(work: Path, new: bool, shown: dict[str, str]) -> list[Problem]:
    """Absent dependencies of the unpacked charts (what CSO fetches per cluster), vendored.

    ``shown`` names the class and the addon archive as users see them, for messages.
    """
    base = work / archives.ADDON_DIR
    charts = {work / archives.CLASS_DIR: shown[archives.CLASS_DIR]}
    if base.is_dir():
        for chart in sorted(base.iterdir()) if new else [base]:
            if (chart / "Chart.yaml").is_file():
                rel = chart.relative_to(base).as_posix()
                charts[chart] = shown[archives.ADDON_DIR] + ("" if rel == "." else f"/{rel}")
    warnings = []
    for chart, display in charts.items():
        warnings += dependencies.vendor(chart, display=display, origin=chart, root=work)
    return warnings


def _check_render(work: Path, stack: StackId, versions: ReleaseVersions, display: str) -> None:
    """The class chart renders the ClusterClass of this release, and what it references."""
    where = f"{display}/{archives.CLASS_DIR}"
    files = helm.render_chart(
        work / archives.CLASS_DIR,
        release_name=stack.prefix,
        namespace="default",
        kube_version=versions.kubernetes,
        display=where,
    )
    problems = ProblemList()
    objects = manifests.parse_files(files, where, problems)
    problems.extend(
        clusterclass.check_names(objects, stack.class_name(versions.cluster_stack), where)
    )
    problems.extend(clusterclass.check_references(objects, where))
    problems.raise_if_any()


def read_published(directory: Path, display: str) -> Imported:
    """Check one published release and build the files of its bundle (nothing is written)."""
    versions = read_metadata(directory / METADATA_FILE, f"{display}/{METADATA_FILE}")
    stack = _stack_of(directory, versions, display)
    problems = ProblemList(_check_names(directory, stack, versions, display))
    problems.raise_if_any()
    name = stack.release_name(versions.cluster_stack)
    new = (directory / addons.ADDON_CONFIG).is_file()
    kept = {
        METADATA_FILE,
        stack.class_archive(versions.cluster_stack),
        stack.addon_archive(versions.cluster_addon),
        *(n for n in CONFIG_FILES if (directory / n).is_file()),
    }
    imported = Imported(name, display, {}, sorted(kept))
    with tempfile.TemporaryDirectory(prefix="csops-import-") as tmp:
        work = Path(tmp)
        for file in sorted(kept):
            shutil.copyfile(directory / file, work / file)
        problems.extend(_unpack_class(directory, stack, versions, work, display))
        problems.extend(_unpack_addons(directory, stack, versions, work, display))
        problems.raise_if_any()
        if new:
            config = addons.load_config(
                work / addons.ADDON_CONFIG, f"{display}/{addons.ADDON_CONFIG}"
            )
            charts = {p.name for p in (work / archives.ADDON_DIR).iterdir() if p.is_dir()}
            imported.warnings += addons.check_stage_charts(
                config,
                charts,
                f"{display}/{addons.ADDON_CONFIG}",
                (work / addons.ADDON_CONFIG).read_text(encoding="utf-8"),
            )
        imported.warnings += _vendor(
            work,
            new,
            {
                archives.CLASS_DIR: f"{display}/{stack.class_archive(versions.cluster_stack)}",
                archives.ADDON_DIR: f"{display}/{stack.addon_archive(versions.cluster_addon)}",
            },
        )
        _check_render(work, stack, versions, display)
        imported.files = tree.read_tree(work)
    unpacked = {archives.CLASS_DIR, archives.ADDON_DIR}
    imported.ignored = sorted(
        p.name + ("/" if p.is_dir() else "")
        for p in directory.iterdir()
        if p.name not in kept and p.name not in unpacked
    )
    return imported


def import_releases(path: Path, repo: Path) -> list[Imported]:
    """Import every release under ``path`` into ``repo``'s rendered tree, all or nothing."""
    config = load_config(repo)
    releases = config.output_dir / RELEASES_DIR
    problems = ProblemList()
    planned: list[Imported] = []
    for directory in release_dirs(path):
        try:
            planned.append(read_published(directory, str(directory)))
        except RendererError as exc:
            problems.extend(exc.problems)
    problems.raise_if_any()
    names = [p.name for p in planned]
    for imported in planned:
        if names.count(imported.name) > 1:
            problems.add(imported.source, f"{imported.name} is given twice")
        target = releases / imported.name
        if target.exists():
            present = tree.read_tree(target)
            changed = [p for p in imported.published if present.get(p) != imported.files[p]]
            if changed:
                problems.add(
                    f"{config.output}/{RELEASES_DIR}/{imported.name}",
                    "exists, and the import differs in "
                    f"{', '.join(changed)}; releases are immutable, an import never changes one",
                    hint="import it under another version, or remove the bundle from git first",
                )
    problems.raise_if_any(ImmutableReleaseError)
    for imported in planned:
        target = releases / imported.name
        if target.exists():
            continue
        releases.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".import-", dir=releases) as tmp:
            staged = Path(tmp) / imported.name
            for rel, data in sorted(imported.files.items()):
                (staged / rel).parent.mkdir(parents=True, exist_ok=True)
                (staged / rel).write_bytes(data)
            staged.rename(target)
        imported.written = True
    return planned
