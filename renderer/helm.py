"""The one adapter to the Helm engine (``helm-python-sdk``, Helm v4 in-process).

Everything that touches ``helm_python`` lives here. Charts are rendered offline with an
explicit release name, namespace and Kubernetes version; archives are normalised so that
packaging the same files twice gives the same bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from helm_python import Chart, _native, dependency_list
from helm_python import errors as helm_errors
from helm_python import package as _package
from helm_python.registry import dependency_build, dependency_update

from csops.renderer.errors import HelmError, Problem

_ARCHIVE_MTIME = 0
_TEMPLATE_LOCATION = re.compile(
    r"^(?P<chart>[^/\s:]+)/(?P<path>\S+?\.(?:yaml|yml|tpl|txt)):(?P<line>\d+)"
)


@dataclass(frozen=True)
class RenderedFile:
    """One rendered template (or CRD file) of a chart: its path and its YAML text."""

    path: str
    text: str


def _problem(display: str, exc: Exception, hint: str) -> Problem:
    message = str(exc).strip()
    match = _TEMPLATE_LOCATION.search(message)
    if match:
        parts = match["path"].split("/")
        # Subchart templates appear as "<chart>/charts/<sub>/templates/…": keep the path.
        file = f"{display}/{'/'.join(parts)}"
        first = message.splitlines()[-1].strip() if "\n" in message else message
        return Problem(file, f"Helm: {first}", line=int(match["line"]), hint=hint)
    return Problem(display, f"Helm: {message}", hint=hint)


def render_chart(
    chart_dir: Path,
    *,
    release_name: str,
    namespace: str,
    kube_version: str,
    values: dict[str, Any] | None = None,
    include_crds: bool = False,
    display: str | None = None,
) -> list[RenderedFile]:
    """Render a chart like ``helm template NAME DIR --namespace NS --kube-version V``.

    Returns the rendered files sorted by path (CRDs of ``crds/`` first when asked), without
    NOTES.txt. A template error becomes a HelmError naming the template and line.
    """
    shown = display or str(chart_dir)
    opts = {"name": release_name, "namespace": namespace, "kube_version": kube_version}
    try:
        chart = Chart.load(chart_dir)
    except helm_errors.HelmError as exc:
        raise HelmError(_problem(shown, exc, "the directory is not a loadable Helm chart")) from exc
    try:
        raw = _native.call_string(
            "helm_render",
            chart._raw(),
            None if values is None else json.dumps(values),
            json.dumps(opts),
        )
        crds = chart.crds if include_crds else []
    except helm_errors.HelmError as exc:
        raise HelmError(_problem(shown, exc, "fix the template or its values")) from exc
    finally:
        chart.close()
    rendered: dict[str, str] = json.loads(raw)
    files = [
        RenderedFile(c["filename"], c["data"]) for c in sorted(crds, key=lambda c: c["filename"])
    ]
    files += [
        RenderedFile(path, text)
        for path, text in sorted(rendered.items())
        if not path.endswith("NOTES.txt") and text.strip()
    ]
    return files


def chart_metadata(chart_dir: Path) -> dict[str, Any]:
    """``Chart.yaml`` as Helm reads it."""
    try:
        with Chart.load(chart_dir) as chart:
            metadata: dict[str, Any] = chart.metadata
            return metadata
    except helm_errors.HelmError as exc:
        raise HelmError(_problem(str(chart_dir), exc, "fix Chart.yaml")) from exc


def template_values(text: str, data: dict[str, Any], *, display: str) -> str:
    """Evaluate a Go template with sprig functions (CSO's values files) through Helm's engine.

    ``data`` becomes the template's dot: ``{{ .Cluster.metadata.name }}`` reads
    ``data["Cluster"]["metadata"]["name"]``. Unlike CSO's bare text/template, Helm prints
    missing values as empty strings instead of ``<no value>``.
    """
    keys = " ".join(f'"{k}" .Values.{k}' for k in sorted(data))
    wrapped = f"{{{{- with dict {keys} -}}}}\n{text}{{{{- end -}}}}"
    with tempfile.TemporaryDirectory(prefix="csops-values-") as tmp:
        chart_dir = Path(tmp) / "values"
        (chart_dir / "templates").mkdir(parents=True)
        (chart_dir / "Chart.yaml").write_text("apiVersion: v2\nname: values\nversion: 0.0.0\n")
        (chart_dir / "templates" / "values.yaml").write_text(wrapped)
        try:
            with Chart.load(chart_dir) as chart:
                raw = _native.call_string(
                    "helm_render", chart._raw(), json.dumps(data), json.dumps({"name": "values"})
                )
        except helm_errors.HelmError as exc:
            message = str(exc).replace("values/templates/values.yaml", display)
            raise HelmError(
                Problem(
                    display,
                    f"template: {message.strip()}",
                    hint="fix the Go template of the values file",
                )
            ) from exc
    rendered: dict[str, str] = json.loads(raw)
    return next(iter(rendered.values()), "")


def cache_dir() -> Path:
    """Where fetched chart dependencies are kept between renders."""
    if os.environ.get("CSOPS_CACHE_DIR"):
        return Path(os.environ["CSOPS_CACHE_DIR"]) / "charts"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path("~/.cache").expanduser()) / "csops" / "charts"


def _declared(chart_dir: Path) -> tuple[list[dict[str, Any]], bool]:
    """Dependencies pinned by Chart.lock, else those of Chart.yaml; and whether locked."""
    lock = chart_dir / "Chart.lock"
    if lock.is_file():
        data = yaml.safe_load(lock.read_text(encoding="utf-8")) or {}
        return list(data.get("dependencies") or []), True
    data = yaml.safe_load((chart_dir / "Chart.yaml").read_text(encoding="utf-8")) or {}
    return list(data.get("dependencies") or []), False


def _cached(cache: Path, dep: dict[str, Any]) -> Path:
    repo = hashlib.sha256(str(dep.get("repository", "")).encode()).hexdigest()[:16]
    return cache / repo / f"{dep['name']}-{dep['version']}.tgz"


def build_dependencies(chart_dir: Path, *, display: str) -> None:
    """Put the chart's declared dependencies into ``charts/`` (a copy, never the source).

    Pinned by ``Chart.lock`` when present (Helm checks the lock against Chart.yaml), fetched
    with Helm's own dependency logic and kept in a local cache, so a dependency is downloaded
    once and later renders work offline.
    """
    cache = cache_dir()
    deps, locked = _declared(chart_dir)
    remote = [d for d in deps if str(d.get("repository", "")).startswith(("http", "oci"))]
    charts = chart_dir / "charts"
    if remote and all(_cached(cache, d).is_file() for d in remote):
        charts.mkdir(exist_ok=True)
        for dep in remote:
            shutil.copyfile(_cached(cache, dep), charts / _cached(cache, dep).name)
        if not _missing(chart_dir):
            return
    try:
        (dependency_build if locked else dependency_update)(chart_dir)
    except helm_errors.HelmError as exc:
        names = (
            ", ".join(
                f"{d.get('name')} {d.get('version')} from {d.get('repository')}" for d in remote
            )
            or "its dependencies"
        )
        raise HelmError(
            Problem(
                f"{display}/Chart.yaml",
                f"cannot fetch {names}: {str(exc).strip()}",
                field="dependencies",
                hint="vendor them (helm dependency build, then commit charts/*.tgz) or make the "
                "chart repository reachable",
            )
        ) from exc
    for dep in remote:
        archive = charts / f"{dep['name']}-{dep['version']}.tgz"
        if archive.is_file():
            target = _cached(cache, dep)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(archive, target)


def _missing(chart_dir: Path) -> bool:
    return any(d.get("status") != "ok" for d in dependency_list(chart_dir))


def missing_dependencies(chart_dir: Path) -> bool:
    """Whether the chart declares dependencies that ``charts/`` does not hold."""
    return _missing(chart_dir)


def normalise_archive(data: bytes) -> bytes:
    """Rewrite a .tgz with sorted entries, fixed times and owners: same files, same bytes."""
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as src:
        members = sorted((m for m in src.getmembers() if m.isfile()), key=lambda m: m.name)
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as dst:
            for member in members:
                content = src.extractfile(member)
                assert content is not None
                info = tarfile.TarInfo(member.name)
                info.size = member.size
                info.mode = 0o644
                info.mtime = _ARCHIVE_MTIME
                dst.addfile(info, content)
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=_ARCHIVE_MTIME, filename="") as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def package_chart(chart_dir: Path) -> bytes:
    """``helm package`` a chart directory and return the normalised archive bytes."""
    with tempfile.TemporaryDirectory(prefix="csops-package-") as tmp:
        try:
            path = _package(chart_dir, destination=tmp)
        except helm_errors.HelmError as exc:
            raise HelmError(_problem(str(chart_dir), exc, "the chart cannot be packaged")) from exc
        return normalise_archive(Path(path).read_bytes())


def tar_directory(directory: Path) -> bytes:
    """A normalised tar.gz of a directory's contents (the new-convention addon archive)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as dst:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            dst.add(path, arcname=path.relative_to(directory).as_posix())
    return normalise_archive(raw.getvalue())


def copy_chart(source: Path, destination: Path) -> None:
    """Copy a chart directory (used to build dependencies without touching the source)."""
    shutil.copytree(source, destination, symlinks=False)
