"""The one adapter to the Helm engine (``helm-python-sdk``, Helm v4 in-process).

Everything that touches ``helm_python`` lives here. Charts are rendered offline with an
explicit release name, namespace and Kubernetes version; archives are normalised so that
packaging the same files twice gives the same bytes.

Why one long module: it is the only module allowed to import ``helm_python`` (an
import-linter contract), so every use of the Helm engine (load, render, package, values) lives
here.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import tarfile
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from helm_python import Chart, _native, dependency_list
from helm_python import errors as helm_errors
from helm_python import package as _package
from helm_python.registry import dependency_update

from csops.renderer import gotemplate, limits
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
        raise HelmError(_problem(shown, exc, _LOAD_HINT)) from exc
    bounds = limits.current()
    abandoned = False
    try:
        raw = _within(
            bounds.render_timeout,
            lambda: _native.call_string(
                "helm_render",
                chart._raw(),
                None if values is None else json.dumps(values),
                json.dumps(opts),
            ),
        )
        crds = chart.crds if include_crds else []
    except helm_errors.HelmError as exc:
        raise HelmError(_problem(shown, exc, "fix the template or its values")) from exc
    except TimeoutError as exc:
        abandoned = True  # the engine still holds the chart: it is left to the process's end
        raise HelmError(
            Problem(
                shown,
                f"Helm rendering took longer than {bounds.render_timeout:g} s",
                hint="a template loops too long (range, until); fix it, or raise the "
                "limit with --render-timeout",
            )
        ) from exc
    finally:
        if not abandoned:
            chart.close()
    rendered = _checked_sizes(raw, shown, bounds)
    files = [
        RenderedFile(c["filename"], c["data"]) for c in sorted(crds, key=lambda c: c["filename"])
    ]
    files += [
        RenderedFile(path, text)
        for path, text in sorted(rendered.items())
        if not path.endswith("NOTES.txt") and text.strip()
    ]
    return files


_LOAD_HINT = "Helm cannot load the chart: fix the file it names (Chart.yaml, values.yaml, …)"
_DOCUMENT_START = re.compile(r"(?m)^---[ \t]*$")


def _within(seconds: float, call: Callable[[], str]) -> str:
    """``call()`` on a daemon thread; :class:`TimeoutError` when it takes longer than
    ``seconds``. The engine runs native code that cannot be interrupted: an abandoned call
    ends with the process (the CLI exits on the error)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=run, name="helm-render", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeoutError(seconds)
    if "error" in box:
        raise box["error"]
    result: str = box["value"]
    return result


def _checked_sizes(raw: str, shown: str, bounds: limits.Limits) -> dict[str, str]:
    """The rendered files by path; a render larger than the release limit, or with one
    object larger than the object limit, is refused naming the template."""
    if len(raw) > bounds.max_release_bytes:
        raise HelmError(
            Problem(
                shown,
                f"Helm rendered {limits.size(len(raw))}, more than the limit of "
                f"{limits.size(bounds.max_release_bytes)} for one release",
                hint="a template emits far too much; fix it, or raise the limit with "
                "--max-release-size",
            )
        )
    rendered: dict[str, str] = json.loads(raw)
    for path, text in sorted(rendered.items()):
        largest = max((len(doc.encode()) for doc in _DOCUMENT_START.split(text)), default=0)
        if largest > bounds.max_object_bytes:
            raise HelmError(
                Problem(
                    f"{shown}/{path.partition('/')[2] or path}",
                    f"renders an object of {limits.size(largest)}, more than the limit of "
                    f"{limits.size(bounds.max_object_bytes)} (Kubernetes refuses objects "
                    "over about 1.5 MiB)",
                    hint="fix the template, or raise the limit with --max-object-size",
                )
            )
    return rendered


def chart_metadata(chart_dir: Path, *, display: str | None = None) -> dict[str, Any]:
    """``Chart.yaml`` as Helm reads it."""
    try:
        with Chart.load(chart_dir) as chart:
            metadata: dict[str, Any] = chart.metadata
            return metadata
    except helm_errors.HelmError as exc:
        raise HelmError(_problem(display or str(chart_dir), exc, _LOAD_HINT)) from exc


_VALUES_CHART = "values"
_VALUES_TEMPLATE = f"{_VALUES_CHART}/templates/_values.tpl"
_NO_VALUE = "<no value>"
_TEMPLATE_ERROR = re.compile(re.escape(_VALUES_TEMPLATE) + r":(?P<line>\d+)(?::\d+)?(?P<rest>.*)")
# Integers travel to Go as marked strings and are turned back into int64 before the values
# template runs: Helm reads values as JSON and would make every number a float64, where CSO
# (unstructured objects) has int64, which printf "%d" and eq tell apart.
_INTS = """{{- define "csops.ints" -}}
{{- $m := .map -}}{{- $mark := .mark -}}
{{- range $k, $v := $m -}}
{{- if and (kindIs "string" $v) (hasPrefix $mark $v) -}}
{{- $_ := set $m $k (int64 (trimPrefix $mark $v)) -}}
{{- else if kindIs "map" $v -}}
{{- include "csops.ints" (dict "map" $v "mark" $mark) -}}
{{- else if kindIs "slice" $v -}}
{{- $box := dict "list" $v "mark" $mark -}}
{{- include "csops.intlist" $box -}}
{{- $_ := set $m $k $box.out -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- define "csops.intlist" -}}
{{- $out := list -}}{{- $mark := .mark -}}
{{- range $v := .list -}}
{{- if and (kindIs "string" $v) (hasPrefix $mark $v) -}}
{{- $out = append $out (int64 (trimPrefix $mark $v)) -}}
{{- else if kindIs "map" $v -}}
{{- include "csops.ints" (dict "map" $v "mark" $mark) -}}
{{- $out = append $out $v -}}
{{- else if kindIs "slice" $v -}}
{{- $box := dict "list" $v "mark" $mark -}}
{{- include "csops.intlist" $box -}}
{{- $out = append $out $box.out -}}
{{- else -}}
{{- $out = append $out $v -}}
{{- end -}}
{{- end -}}
{{- $_ := set . "out" $out -}}
{{- end -}}
"""


def _mark_ints(value: Any, mark: str) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return f"{mark}{value}"
    if isinstance(value, dict):
        return {k: _mark_ints(v, mark) for k, v in value.items()}
    if isinstance(value, list):
        return [_mark_ints(v, mark) for v in value]
    return value


def template_values(text: str, data: dict[str, Any], *, display: str) -> str:
    """Evaluate a values file as CSO does: Go ``text/template`` with sprig, ``data`` as dot.

    The text becomes a template file of a scratch chart and is executed with
    ``include`` and ``data`` as its dot, so ``define``, ``template`` and ``block`` work at
    the top level as in a bare ``text/template``. A missing map key prints ``<no value>``
    (Helm would print nothing), a chain of fields through an absent key stops there as in
    CSO (:mod:`gotemplate`), and integers stay integers.
    """
    token = secrets.token_hex(8)
    mark = f"csops-int-{token}:"
    no_value = f"csops-no-value-{token}"
    driver = (
        f'{{{{- include "csops.ints" (dict "map" .Values "mark" "{mark}") -}}}}'
        f"{{{{- $dot := pick .Values {' '.join(json.dumps(k) for k in sorted(data))} -}}}}"
        f'{{{{- include "{_VALUES_TEMPLATE}" $dot | replace "{_NO_VALUE}" "{no_value}" -}}}}'
    )
    with tempfile.TemporaryDirectory(prefix="csops-values-") as tmp:
        chart_dir = Path(tmp) / _VALUES_CHART
        (chart_dir / "templates").mkdir(parents=True)
        (chart_dir / "Chart.yaml").write_text(
            f"apiVersion: v2\nname: {_VALUES_CHART}\nversion: 0.0.0\n"
        )
        (chart_dir / "templates" / "_values.tpl").write_text(
            gotemplate.with_cso_missing_keys(text), encoding="utf-8"
        )
        (chart_dir / "templates" / "_csops.tpl").write_text(_INTS)
        (chart_dir / "templates" / "out.yaml").write_text(driver)
        try:
            with Chart.load(chart_dir) as chart:
                raw = _native.call_string(
                    "helm_render",
                    chart._raw(),
                    json.dumps(_mark_ints(data, mark)),
                    json.dumps({"name": _VALUES_CHART}),
                )
        except helm_errors.HelmError as exc:
            raise HelmError(_values_problem(str(exc), display)) from exc
    rendered: dict[str, str] = json.loads(raw)
    out = rendered.get(f"{_VALUES_CHART}/templates/out.yaml", "")
    return out.replace(no_value, _NO_VALUE)


def _values_problem(message: str, display: str) -> Problem:
    """A template error of a values file, pointing at its own line."""
    text = " ".join(message.split())
    found = list(_TEMPLATE_ERROR.finditer(text))
    line = None
    if found:
        line = int(found[-1]["line"])
        text = found[-1]["rest"]
    text = re.sub(r"^execution error at \([^)]*\):\s*", "", text)
    text = _DIG_ERROR.sub(_undig, text)
    text = re.sub(r'^\)?:?\s*executing "[^"]*" at ', "at ", text.lstrip(":) "))
    return Problem(display, f"template: {text}", line=line, hint=_VALUES_HINT)


_VALUES_HINT = "fix the Go template of the values file"
_DIG_ERROR = re.compile(
    r'<dig (?P<keys>(?:"[^"]*" )+)nil (?P<receiver>[^>]*)>: error calling dig: '
    r"interface conversion: interface \{\} is (?P<type>.+?), not map\[string\]interface \{\}"
)


def _undig(match: re.Match[str]) -> str:
    """A failed field chain as the values file wrote it (see :mod:`gotemplate`)."""
    fields = "".join(f".{k}" for k in re.findall(r'"([^"]*)"', match["keys"]))
    receiver = "" if match["receiver"] == "." else match["receiver"]
    return f"<{receiver}{fields}>: cannot read a field of {match['type']}"


def cache_dir() -> Path:
    """Where fetched chart dependencies are kept between renders."""
    if os.environ.get("CSOPS_CACHE_DIR"):
        return Path(os.environ["CSOPS_CACHE_DIR"]) / "charts"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path("~/.cache").expanduser()) / "csops" / "charts"


def chart_summary(path: Path) -> dict[str, Any]:
    """What Helm renders from a chart directory or archive: metadata, values, templates,
    CRDs and the subcharts it holds (name → version)."""
    try:
        with Chart.load(path) as chart:
            return {
                "metadata": chart.metadata,
                "values": chart.values,
                "templates": {t["name"]: t["data"] for t in chart.templates},
                "crds": {c["filename"]: c["data"] for c in chart.crds},
                "subcharts": {
                    str(d.get("name")): str(d.get("version")) for d in chart.dependencies
                },
            }
    except helm_errors.HelmError as exc:
        raise HelmError(_problem(str(path), exc, "the chart cannot be loaded")) from exc


def declared_dependencies(chart_dir: Path, *, display: str | None = None) -> list[dict[str, Any]]:
    """``dependencies:`` of the chart's Chart.yaml, as Helm reads it."""
    return list(chart_metadata(chart_dir, display=display).get("dependencies") or [])


def vendored_charts(chart_dir: Path, *, display: str | None = None) -> dict[str, str]:
    """Name → version of the subcharts Helm loads from ``charts/`` (archives and directories)."""
    try:
        with Chart.load(chart_dir) as chart:
            return {str(d.get("name", "")): str(d.get("version", "")) for d in chart.dependencies}
    except helm_errors.HelmError as exc:
        shown = display or str(chart_dir)
        raise HelmError(_problem(shown, exc, "fix the chart or its charts/")) from exc


def dependency_status(chart_dir: Path, *, display: str | None = None) -> list[dict[str, Any]]:
    """``helm dependency list``: each declared dependency with its status in ``charts/``."""
    try:
        return list(dependency_list(chart_dir))
    except helm_errors.HelmError as exc:
        shown = display or str(chart_dir)
        raise HelmError(_problem(shown, exc, "fix the chart or its charts/")) from exc


def _cache_slot(cache: Path, dep: dict[str, Any]) -> Path:
    """The cache directory of one (repository, name, requested version)."""
    key = json.dumps([dep.get("repository", ""), dep["name"], dep["version"]])
    return cache / hashlib.sha256(key.encode()).hexdigest()[:24]


def _cached(cache: Path, dep: dict[str, Any]) -> Path | None:
    found = sorted(_cache_slot(cache, dep).glob("*.tgz"))
    return found[0] if len(found) == 1 else None


def fetch_dependencies(deps: list[dict[str, Any]], charts: Path) -> None:
    """Put the charts ``deps`` name into ``charts`` with Helm's own resolver, through a cache.

    Each entry has ``name``, ``version`` (exact or a range) and ``repository``. A dependency
    fetched once is kept in :func:`cache_dir` under its repository, name and version, so
    later renders of the same pin need no network.
    """
    cache = cache_dir()
    charts.mkdir(parents=True, exist_ok=True)
    todo = [d for d in deps if _cached(cache, d) is None]
    if todo:
        with tempfile.TemporaryDirectory(prefix="csops-deps-") as tmp:
            scratch = Path(tmp) / "fetch"
            scratch.mkdir()
            (scratch / "Chart.yaml").write_text(
                yaml.safe_dump(
                    {"apiVersion": "v2", "name": "fetch", "version": "0.0.0", "dependencies": todo}
                )
            )
            try:
                dependency_update(scratch)
            except helm_errors.HelmError as exc:
                raise HelmError(Problem(str(charts), str(exc).strip())) from exc
            by_name = {}
            for archive in sorted((scratch / "charts").glob("*.tgz")):
                with Chart.load(archive) as chart:
                    by_name[chart.name] = archive
            for dep in todo:
                if dep["name"] not in by_name:
                    raise HelmError(
                        Problem(str(charts), f"the repository gave no chart named {dep['name']}")
                    )
                slot = _cache_slot(cache, dep)
                slot.mkdir(parents=True, exist_ok=True)
                partial = slot / f".{os.getpid()}.part"
                shutil.copyfile(by_name[dep["name"]], partial)
                partial.replace(slot / by_name[dep["name"]].name)
    for dep in deps:
        cached = _cached(cache, dep)
        assert cached is not None
        shutil.copyfile(cached, charts / cached.name)


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


def package_chart(chart_dir: Path, *, display: str | None = None) -> bytes:
    """``helm package`` a chart directory and return the normalised archive bytes."""
    with tempfile.TemporaryDirectory(prefix="csops-package-") as tmp:
        try:
            path = _package(chart_dir, destination=tmp)
        except helm_errors.HelmError as exc:
            shown = display or str(chart_dir)
            raise HelmError(_problem(shown, exc, "the chart cannot be packaged")) from exc
        return normalise_archive(Path(path).read_bytes())


def tar_directory(directory: Path) -> bytes:
    """A normalised tar.gz of a directory's contents (the new-convention addon archive)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as dst:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            dst.add(path, arcname=path.relative_to(directory).as_posix())
    return normalise_archive(raw.getvalue())
