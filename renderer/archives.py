"""The charts of a release bundle, unpacked or only as CSO's archives.

csops writes each bundle with its charts unpacked (``cluster-class/``, ``cluster-addon/``)
beside the archives CSO reads. A bundle as CSO publishes it holds only the archives
(``P-N-M-m-cluster-class-V.tgz``, ``P-N-M-m-cluster-addon-V.tgz``, ``metadata.yaml``): the
class chart is then rendered from its archive, and the addon archive is unpacked into a
cache (keyed by its digest, so an immutable archive is unpacked once), with absent chart
dependencies vendored there as CSO's ``helm template --dependency-update`` would fetch them.
"""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import tempfile
from pathlib import Path

from csops.renderer import dependencies, helm
from csops.renderer.errors import Problem, SourceError

CLASS_DIR = "cluster-class"
ADDON_DIR = "cluster-addon"


def find(directory: Path, name: str, display: str) -> Path:
    """The archive ``name`` of a bundle; its absence is an error naming the bundle."""
    path = directory / name
    if not path.is_file():
        raise SourceError(
            Problem(
                display,
                f"has neither {name.split('-cluster-', maxsplit=1)[0]}'s unpacked chart nor {name}",
                hint="a bundle needs the archives CSO reads (or csops's unpacked charts)",
            )
        )
    return path


def class_chart(directory: Path, archive: str, display: str) -> Path:
    """What Helm loads for the class chart: ``cluster-class/``, else the archive."""
    unpacked = directory / CLASS_DIR
    return unpacked if unpacked.is_dir() else find(directory, archive, display)


def _safe_members(archive: tarfile.TarFile, display: str) -> list[tarfile.TarInfo]:
    members = []
    for member in archive.getmembers():
        parts = Path(member.name).parts
        if member.name.startswith("/") or ".." in parts:
            raise SourceError(Problem(display, f"unsafe path {member.name!r} in the archive"))
        if member.isfile() or member.isdir():
            members.append(member)
    return members


def unpack(archive: Path, target: Path, display: str) -> None:
    """Extract regular files and directories of a .tgz into ``target``."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(target, members=_safe_members(tar, display), filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise SourceError(Problem(display, f"is not a readable .tgz archive: {exc}")) from exc


def _charts_of(root: Path, new_convention: bool) -> list[Path]:
    if not new_convention:
        return [root]
    return [p for p in sorted(root.iterdir()) if (p / "Chart.yaml").is_file()]


def addon_root(directory: Path, archive: str, new_convention: bool, display: str) -> Path | None:
    """``cluster-addon/`` of a bundle: its unpacked copy, else the archive unpacked in a cache.

    For the old convention the root is the one addon chart (the archive is ``helm package``
    output, a single ``<chart>/`` directory); for the new one it holds a chart per addon.
    ``None`` when the bundle has no addons at all.
    """
    unpacked = directory / ADDON_DIR
    if unpacked.is_dir():
        return unpacked
    path = directory / archive
    if not path.is_file():
        return None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:32]
    cached = helm.cache_dir().parent / "bundles" / digest
    if cached.is_dir():
        return _root_in(cached, new_convention)
    cached.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".unpack-", dir=cached.parent) as tmp:
        work = Path(tmp) / "tree"
        unpack(path, work, f"{display}/{archive}")
        root = _root_in(work, new_convention)
        for chart in _charts_of(root, new_convention):
            dependencies.vendor(
                chart,
                display=f"{display}/{archive}/{chart.relative_to(work).as_posix()}",
                origin=chart,
                root=work,
            )
        try:
            work.rename(cached)
        except OSError:
            if not cached.is_dir():
                raise
            shutil.rmtree(work, ignore_errors=True)  # another process unpacked it first
    return _root_in(cached, new_convention)


def _root_in(tree: Path, new_convention: bool) -> Path:
    if new_convention:
        return tree
    tops = [p for p in tree.iterdir() if p.is_dir()]
    return tops[0] if len(tops) == 1 else tree
