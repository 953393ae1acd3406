"""Release bundles: what csctl would publish, as files under ``rendered/releases/<name>/``.

A bundle holds the marker-substituted charts (to re-render later, per cluster for addons),
the CSO assets (class and addon archives, ``metadata.yaml``, ``hashes.json``,
``clusteraddon.yaml`` or ``cluster-addon-values.yaml``, ``node-images.yaml``) and nothing
that depends on time or on the machine: the same source gives the same bytes.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from csops.renderer import dependencies, documents, helm, markers
from csops.renderer.errors import Problem, ProblemList, SourceError
from csops.renderer.hashes import StackHashes
from csops.renderer.hashes import source_hashes as _layer_hashes
from csops.renderer.ledger import HASHES_FILE, METADATA_FILE, ReleaseVersions
from csops.renderer.sources import (
    ADDON_CONFIG,
    ADDON_DIR,
    ADDON_VALUES,
    CLASS_DIR,
    NODE_IMAGES_FILE,
    StackSource,
)

NODE_IMAGE_CONFIG = "node-images/config.yaml"
STANDALONE_IMAGES = "image.yaml"
"""ORC ``Image`` objects kept beside the stack (SCS ``scs2``), applied with the class."""


def source_hashes(source: StackSource) -> StackHashes:
    """Every layer hash of a stack source (``hashes.json``)."""
    return _layer_hashes(source.directory)


def _set_chart_version(chart_yaml: Path, version: str, display: str) -> str:
    """Set ``version:`` in Chart.yaml, keeping its formatting; returns the chart name."""
    yaml = YAML()
    yaml.preserve_quotes = True
    try:
        data = yaml.load(chart_yaml.read_text(encoding="utf-8"))
    except (YAMLError, UnicodeDecodeError) as exc:
        raise SourceError(Problem(display, f"malformed YAML: {exc}")) from exc
    if not isinstance(data, dict):
        raise SourceError(Problem(display, "Chart.yaml is not a mapping"))
    data["version"] = version
    out = io.StringIO()
    yaml.dump(data, out)
    chart_yaml.write_text(out.getvalue(), encoding="utf-8")
    return str(data.get("name", ""))


def _pin_chart(
    chart_dir: Path, version: str, expected: str, display: str, problems: ProblemList
) -> None:
    """Set the chart's version as csctl does, and check it has the name csctl and CSO expect."""
    name = _set_chart_version(chart_dir / "Chart.yaml", version, f"{display}/Chart.yaml")
    if name != expected:
        problems.add(
            f"{display}/Chart.yaml",
            f"chart name {name!r} must be {expected!r}",
            field="name",
            hint=f"csctl would package it as {name}-{version}.tgz, and CSO, which looks for "
            f"{expected}-{version}.tgz, would not find it",
        )


def _copy_substituted(source: Path, target: Path, values: dict[str, str]) -> None:
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if rel.parts and rel.parts[0] == ".git":
            continue
        dest = target / rel
        if path.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
        elif path.is_file():
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(markers.substitute(path.read_bytes(), values))


def _files_of(directory: Path, prefix: str) -> dict[str, bytes]:
    return {
        f"{prefix}/{p.relative_to(directory).as_posix()}": p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def build_bundle(
    source: StackSource, versions: ReleaseVersions, hashes: StackHashes
) -> tuple[dict[str, bytes], list[Problem]]:
    """The files of a new release bundle, relative to the bundle directory, and warnings."""
    values = {
        markers.CLUSTER_CLASS_VERSION: versions.cluster_stack.dot,
        markers.CLUSTER_ADDON_VERSION: versions.cluster_addon.dot,
        markers.NODE_IMAGE_VERSION: versions.node_image.dot,
    }
    problems = ProblemList()
    stack = source.stack
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="csops-bundle-") as tmp:
        work = Path(tmp) / "stack"
        _copy_substituted(source.directory, work, values)

        class_dir = work / CLASS_DIR
        _pin_chart(
            class_dir,
            versions.cluster_stack.dot,
            stack.class_chart,
            f"{source.display}/{CLASS_DIR}",
            problems,
        )
        addon_dir = work / ADDON_DIR
        if addon_dir.is_dir() and not source.new_convention:
            _pin_chart(
                addon_dir,
                versions.cluster_addon.dot,
                stack.addon_chart,
                f"{source.display}/{ADDON_DIR}",
                problems,
            )
        problems.raise_if_any()

        charts = [class_dir]
        if addon_dir.is_dir():
            charts += (
                [p for p in sorted(addon_dir.iterdir()) if (p / "Chart.yaml").is_file()]
                if source.new_convention
                else [addon_dir]
            )
        warnings: list[Problem] = []
        for chart in charts:
            rel = chart.relative_to(work).as_posix()
            warnings += dependencies.vendor(
                chart,
                display=f"{source.display}/{rel}",
                origin=source.directory / rel,
                root=source.root,
            )

        files.update(_files_of(class_dir, CLASS_DIR))
        files[stack.class_archive(versions.cluster_stack)] = helm.package_chart(
            class_dir, display=f"{source.display}/{CLASS_DIR}"
        )
        if addon_dir.is_dir():
            files.update(_files_of(addon_dir, ADDON_DIR))
            files[stack.addon_archive(versions.cluster_addon)] = (
                helm.tar_directory(addon_dir)
                if source.new_convention
                else helm.package_chart(addon_dir, display=f"{source.display}/{ADDON_DIR}")
            )
        if source.new_convention:
            files[ADDON_CONFIG] = (work / ADDON_CONFIG).read_bytes()
        elif (work / ADDON_VALUES).is_file():
            files[ADDON_VALUES] = (work / ADDON_VALUES).read_bytes()
        if (work / STANDALONE_IMAGES).is_file():
            files[STANDALONE_IMAGES] = (work / STANDALONE_IMAGES).read_bytes()
        if (work / NODE_IMAGES_FILE).is_file():
            files[NODE_IMAGES_FILE] = (work / NODE_IMAGES_FILE).read_bytes()
        elif source.provider_config.get("method") == "get" and (work / NODE_IMAGE_CONFIG).is_file():
            # What csctl-openstack's "get" method does: publish node-images/config.yaml.
            files[NODE_IMAGES_FILE] = (work / NODE_IMAGE_CONFIG).read_bytes()
    files[METADATA_FILE] = documents.dump(versions.metadata())
    files[HASHES_FILE] = hashes.to_json().encode()
    return files, warnings


def write_bundle(files: dict[str, bytes], directory: Path) -> None:
    """Write bundle files into an empty directory."""
    if directory.exists():
        shutil.rmtree(directory)
    for rel, data in sorted(files.items()):
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
