"""Stack sources in SCS layout: found by ``csctl.yaml`` (generations 2, 3) or ``stack.yaml`` (4).

A source is one provider, stack name and Kubernetes minor; the git tree holds its newest
state. Old releases live on in their bundles under ``rendered/releases``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from csops.renderer import documents, patches, schemas
from csops.renderer.config import RepoConfig
from csops.renderer.errors import Problem, ProblemList, SourceError
from csops.renderer.names import KubernetesVersion, NamingError, StackId

CSCTL_FILE = "csctl.yaml"
LEGACY_CSCTL_FILE = "csmctl.yaml"
"""The same file under csctl's former name (still in the Cluster Stack Operator's fixtures)."""
STACK_FILE = "stack.yaml"
ADDON_CONFIG = "clusteraddon.yaml"
ADDON_VALUES = "cluster-addon-values.yaml"
NODE_IMAGES_FILE = "node-images.yaml"
CLASS_DIR = "cluster-class"
ADDON_DIR = "cluster-addon"
_SKIP_DIRS = {".git", "node_modules", "__pycache__"}


@dataclass(frozen=True)
class StackSource:
    """One stack directory, parsed and checked."""

    directory: Path
    display: str
    root: Path
    """The repository root: nothing outside it is read for this stack (``file://`` charts)."""
    generation: int
    stack: StackId
    kubernetes: KubernetesVersion
    provider_config: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def new_convention(self) -> bool:
        """Multi-stage addons (``clusteraddon.yaml``) instead of one addon chart."""
        return (self.directory / ADDON_CONFIG).is_file()

    @property
    def class_dir(self) -> Path:
        """The cluster-class chart."""
        return self.directory / CLASS_DIR

    @property
    def addon_dir(self) -> Path:
        """``cluster-addon/``: one chart (old convention) or one chart per addon (new)."""
        return self.directory / ADDON_DIR

    def addon_charts(self) -> dict[str, Path]:
        """Addon chart name to directory (new convention: subdirectories with Chart.yaml)."""
        if not self.addon_dir.is_dir():
            return {}
        if not self.new_convention:
            return {self.stack.addon_chart: self.addon_dir}
        return {
            p.name: p
            for p in sorted(self.addon_dir.iterdir())
            if p.is_dir() and (p / "Chart.yaml").is_file()
        }


def _links(directory: str) -> Iterator[str]:
    """Every symbolic link below ``directory`` (links are not entered)."""
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.is_symlink():
                yield entry.path
            elif entry.is_dir():
                yield from _links(entry.path)


def _check_no_links(directory: Path, root: Path, display: str, problems: ProblemList) -> None:
    for link in sorted(_links(str(directory))):
        path = Path(link)
        outside = root not in path.resolve().parents
        problems.add(
            f"{display}/{path.relative_to(directory).as_posix()}",
            "is a symbolic link" + (" pointing outside the repository" if outside else ""),
            hint="stack sources must be regular files (csctl's hash refuses links too); "
            "copy the file instead",
        )


def discover(config: RepoConfig) -> list[Path]:
    """Directories holding ``csctl.yaml`` or ``stack.yaml`` under the configured roots."""
    found: list[Path] = []
    output = config.output_dir.resolve()
    for rel in config.roots:
        base = config.root / rel
        if not base.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            here = Path(dirpath)
            if here.resolve() == output:
                dirnames.clear()
                continue
            if {STACK_FILE, CSCTL_FILE, LEGACY_CSCTL_FILE} & set(filenames):
                found.append(here)
                dirnames.clear()
                continue
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
    return sorted(set(found))


def _from_csctl(data: Any, file: str, text: str, problems: ProblemList) -> tuple[Any, ...] | None:
    found = schemas.validate("csctl", data, file, text)
    if found:
        problems.extend(found)
        return None
    cfg = data["config"]
    provider = cfg["provider"]
    return (
        provider["type"],
        cfg["clusterStackName"],
        cfg["kubernetesVersion"],
        provider.get("config") or {},
    )


def _from_stack_yaml(
    data: Any, file: str, text: str, problems: ProblemList
) -> tuple[Any, ...] | None:
    found = schemas.validate("stack", data, file, text)
    if found:
        problems.extend(found)
        return None
    written = documents.raw_scalar(text, ("kubernetesVersion",)) or str(data["kubernetesVersion"])
    return (data["provider"], data["clusterStackName"], written, {})


def _naming_problem(exc: NamingError, file: str, gen4: bool, text: str) -> Problem:
    """A provider or stack name csctl and CSO cannot work with, pointing at its field."""
    field_name = "provider" if "provider" in str(exc) else "clusterStackName"
    if gen4:
        path: tuple[str, ...] = (field_name,)
        shown = field_name
    else:
        inner = ("provider", "type") if field_name == "provider" else (field_name,)
        path = ("config", *inner)
        shown = ".".join(path)
    return Problem(
        file,
        str(exc),
        field=shown,
        line=documents.line_index(text).get(path),
        hint="csctl would cut a release, but CSO splits release and ClusterClass names on "
        "'-' and '.' and would break on it; rename it",
    )


def load_source(directory: Path, config: RepoConfig) -> StackSource:
    """Parse and check one stack directory."""
    problems = ProblemList()
    display = config.display(directory)
    gen4 = (directory / STACK_FILE).is_file()
    cfg_name = STACK_FILE if gen4 else CSCTL_FILE
    if not gen4 and not (directory / CSCTL_FILE).is_file():
        cfg_name = LEGACY_CSCTL_FILE
    file = f"{display}/{cfg_name}"
    _check_no_links(directory, config.root, display, problems)  # before anything is read
    problems.raise_if_any()
    text = documents.read_text(directory / cfg_name, file)
    data = documents.loads_one(text, file)
    parsed = (_from_stack_yaml if gen4 else _from_csctl)(data, file, text, problems)
    problems.raise_if_any()
    assert parsed is not None
    provider, name, k8s_text, provider_config = parsed
    k8s_field = "kubernetesVersion" if gen4 else "config.kubernetesVersion"
    k8s_path = ("kubernetesVersion",) if gen4 else ("config", "kubernetesVersion")
    kubernetes = patches.resolve(
        patches.Written(
            str(k8s_text), file, k8s_field, lambda: documents.line_index(text).get(k8s_path)
        ),
        directory,
        config.kubernetes_versions,
        display,
        root=config.root,
    )
    stack = StackId(provider, name, kubernetes.major, kubernetes.minor)
    try:
        stack.check()
    except NamingError as exc:
        raise SourceError(_naming_problem(exc, file, gen4, text)) from exc
    if not (directory / CLASS_DIR / "Chart.yaml").is_file():
        problems.add(
            f"{display}/{CLASS_DIR}",
            "no cluster-class chart (Chart.yaml missing)",
            hint="every stack needs a cluster-class/ Helm chart",
        )
    problems.raise_if_any()
    return StackSource(
        directory,
        display,
        config.root,
        4 if gen4 else (3 if (directory / ADDON_CONFIG).is_file() else 2),
        stack,
        kubernetes,
        provider_config,
    )


def load_sources(config: RepoConfig) -> list[StackSource]:
    """Every stack source of the repository; two sources for one stack line are an error."""
    problems = ProblemList()
    sources: list[StackSource] = []
    for directory in discover(config):
        try:
            sources.append(load_source(directory, config))
        except SourceError as exc:
            problems.extend(exc.problems)
    seen: dict[StackId, StackSource] = {}
    for source in sources:
        if source.stack in seen:
            problems.add(
                source.display,
                f"defines {source.stack.prefix} again",
                hint=f"already defined in {seen[source.stack].display}; one source per "
                "provider, stack and Kubernetes minor",
            )
        seen[source.stack] = source
    problems.raise_if_any()
    return sources
