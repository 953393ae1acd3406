"""Chart dependencies the way Helm resolves them: vendored ones are used, missing ones fetched.

``helm template`` (and CSO's ``helm template --dependency-update``) renders a chart when every
dependency ``Chart.yaml`` declares is present in ``charts/`` under its chart name, as an
archive (``charts/<name>-<version>.tgz``) or an unpacked chart directory (``charts/<name>/``).
Aliases, ``condition:`` and the version asked for do not matter for that check; what is
vendored is what renders. Only when a declared dependency is absent does Helm go to the
network. csops does the same, fetching nothing but the absent dependencies (pinned by
``Chart.lock`` when there is one) and keeping them in a local cache, so a dependency is
downloaded once and every later render is offline. A ``file://`` dependency is taken from its
directory, which must be inside the repository: a render reads nothing outside it.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from csops import confine
from csops.renderer import documents, helm
from csops.renderer.errors import NEEDS_NETWORK, HelmError, Problem

_EXACT = re.compile(r"^v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?$")
_DRIFT = {"wrong version", "invalid version", "too many matches", "corrupt", "misnamed"}


@dataclass(frozen=True)
class Dependency:
    """One entry of ``dependencies:`` in Chart.yaml (or Chart.lock)."""

    name: str
    version: str
    repository: str

    @classmethod
    def of(cls, entry: dict[str, Any]) -> Dependency:
        """From a YAML mapping; missing fields become empty strings."""
        return cls(
            str(entry.get("name") or ""),
            str(entry.get("version") or ""),
            str(entry.get("repository") or ""),
        )

    def __str__(self) -> str:
        where = f" from {self.repository}" if self.repository else ""
        return f"{self.name} {self.version}{where}"


def _normal(version: str) -> str:
    return version.removeprefix("v")


def missing(declared: list[Dependency], vendored: Mapping[str, str]) -> list[Dependency]:
    """Declared dependencies without a chart of that name in ``charts/`` (Helm's own check)."""
    return [d for d in declared if d.name not in vendored]


def _locked(chart_dir: Path, display: str) -> dict[str, Dependency] | None:
    lock = chart_dir / "Chart.lock"
    if not lock.is_file():
        return None
    data = documents.load_one(lock, display=f"{display}/Chart.lock") or {}
    entries = data.get("dependencies") if isinstance(data, dict) else None
    return {d.name: d for d in map(Dependency.of, entries or []) if d.name}


def _pinned(
    absent: list[Dependency], locked: dict[str, Dependency] | None, display: str
) -> tuple[list[Dependency], list[Problem]]:
    """What to fetch: each absent dependency as Chart.lock pins it, when the lock agrees.

    A lock that disagrees with Chart.yaml is ignored for that dependency, as CSO's
    ``helm template --dependency-update`` ignores it, and reported.
    """
    if locked is None:
        return absent, []
    pins, warnings = [], []
    for dep in absent:
        pin = locked.get(dep.name)
        reason = ""
        if pin is None:
            reason = f"it does not list {dep.name}"
        elif pin.repository.rstrip("/") != dep.repository.rstrip("/"):
            reason = f"it takes {dep.name} from {pin.repository}, Chart.yaml from {dep.repository}"
        elif _EXACT.match(dep.version) and _normal(dep.version) != _normal(pin.version):
            reason = f"it pins {dep.name} {pin.version}, Chart.yaml asks for {dep.version}"
        if reason:
            warnings.append(
                Problem(
                    f"{display}/Chart.lock",
                    f"out of sync with Chart.yaml ({reason}); {dep.name} is fetched as Chart.yaml "
                    "declares it, as `helm template --dependency-update` does",
                    field="dependencies",
                    hint="run `helm dependency update` and commit Chart.lock and charts/",
                )
            )
            pins.append(dep)
        else:
            assert pin is not None
            pins.append(pin)
    return pins, warnings


LOCAL_PREFIX = "file://"


def _local(dep: Dependency, origin: Path, root: Path, display: str) -> Path:
    """The directory a ``file://`` dependency names, as Helm finds it (relative to the chart's
    own directory), proven to be inside the repository with nothing linked from outside."""
    rest = dep.repository[len(LOCAL_PREFIX) :]
    path = Path(rest) if Path(rest).is_absolute() else origin / rest
    where = f"{display}/Chart.yaml"
    try:
        confine.real(root, path)
        list(confine.files(root, path))
    except confine.OutsideError as exc:
        raise HelmError(
            Problem(
                where,
                f"dependency {dep.name} comes from {dep.repository}, outside the repository "
                f"({exc.problems[0].message})",
                field="dependencies",
                hint="vendor the chart into charts/ or keep it inside the repository",
            )
        ) from exc
    if not (path / "Chart.yaml").is_file():
        raise HelmError(
            Problem(
                where,
                f"dependency {dep.name}: {dep.repository} is not a chart directory",
                field="dependencies",
            )
        )
    return path


def vendor(chart_dir: Path, *, display: str, origin: Path, root: Path) -> list[Problem]:
    """Make ``charts/`` hold every declared dependency, fetching only the absent ones.

    ``chart_dir`` is a working copy of the chart at ``origin`` (never the stack source
    itself). A ``file://`` dependency is copied from its directory, which must be inside
    ``root``; others are fetched. Returns warnings: a vendored chart whose version differs
    from what Chart.yaml asks for renders as it is, like Helm renders it. A dependency that
    is absent and cannot be fetched is a HelmError whose message starts with ``needs network``.
    """
    declared = [Dependency.of(d) for d in helm.declared_dependencies(chart_dir, display=display)]
    if not declared:
        return []
    vendored = helm.vendored_charts(chart_dir, display=display)
    absent = missing(declared, vendored)
    warnings: list[Problem] = []
    local = [d for d in absent if d.repository.startswith(LOCAL_PREFIX)]
    for dep in local:
        shutil.copytree(_local(dep, origin, root, display), chart_dir / "charts" / dep.name)
    absent = [d for d in absent if d not in local]
    if absent:
        wanted, warnings = _pinned(absent, _locked(chart_dir, display), display)
        try:
            helm.fetch_dependencies(
                [
                    {"name": d.name, "version": d.version, "repository": d.repository}
                    for d in wanted
                ],
                chart_dir / "charts",
            )
        except HelmError as exc:
            names = ", ".join(map(str, wanted))
            raise HelmError(
                Problem(
                    f"{display}/Chart.yaml",
                    f"{NEEDS_NETWORK}: {names} {'is' if len(wanted) == 1 else 'are'} not "
                    f"vendored in charts/ and could not be fetched ({exc.problems[0].message})",
                    field="dependencies",
                    hint="vendor it (helm dependency build, then commit charts/*.tgz) or make "
                    "the chart repository reachable",
                )
            ) from exc
        still = missing(declared, helm.vendored_charts(chart_dir, display=display))
        if still:
            raise HelmError(
                Problem(
                    f"{display}/Chart.yaml",
                    f"fetched dependencies do not provide {', '.join(d.name for d in still)}",
                    field="dependencies",
                    hint="the chart in the repository has another name; fix the dependency",
                )
            )
    return warnings + [
        Problem(
            f"{display}/Chart.yaml",
            f"asks for {entry['name']} {entry['version']}, charts/ holds "
            f"{vendored.get(entry['name']) or 'another chart'} ({entry['status']}); Helm and "
            "CSO render the vendored chart, and so does csops",
            field="dependencies",
            hint="vendor what Chart.yaml names (helm dependency update) to silence this",
        )
        for entry in helm.dependency_status(chart_dir, display=display)
        if entry.get("status") in _DRIFT and entry["name"] not in {d.name for d in absent}
    ]
