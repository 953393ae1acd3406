"""``csops.yaml``: where stacks, ClusterStacks and the output live in a stacks repository."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from csops import confine
from csops.renderer import custom, documents, patches, schemas
from csops.renderer.custom import CustomVersions
from csops.renderer.errors import Problem, SourceError

CONFIG_FILE = "csops.yaml"
MODES = ("stable", "hash", "custom")
DEFAULT_ACTIONS = ("Deny",)


@dataclass(frozen=True)
class AdmissionConfig:
    """``admission:`` in csops.yaml: whether and how the rendered policies act."""

    enabled: bool = True
    actions: tuple[str, ...] = DEFAULT_ACTIONS


@dataclass(frozen=True)
class RepoConfig:
    """The settings of one stacks repository, with defaults for every field."""

    root: Path
    roots: tuple[str, ...] = ("providers",)
    cluster_stacks: str = "clusterstacks"
    output: str = "rendered"
    default_namespace: str = "default"
    version_mode: str = "stable"
    kubernetes_versions: Mapping[str, str] = field(default_factory=dict)
    """Pins of Kubernetes minors to patches, for stacks that name a minor only."""
    custom_versions: Mapping[str, CustomVersions] = field(default_factory=dict)
    """Versions per stack (``P-N-M-m``) for custom mode."""
    admission: AdmissionConfig = AdmissionConfig()

    @property
    def output_dir(self) -> Path:
        """Absolute path of the rendered tree."""
        return self.root / self.output

    def display(self, path: Path) -> str:
        """A path as users see it: relative to the repository."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


def _inside(root: Path, rel: str, file: str, field: str) -> str:
    target = (root / rel).resolve()
    if target != root and root not in target.parents:
        raise SourceError(
            Problem(
                file,
                f"{rel!r} points outside the repository",
                field=field,
                hint="use a path relative to the repository root, without '..'",
            )
        )
    return rel


def load_config(root: Path) -> RepoConfig:
    """Read ``csops.yaml`` at ``root`` if present; missing fields take their defaults."""
    root = root.resolve()
    if not root.is_dir():
        raise SourceError(Problem(str(root), "is not a directory", hint="pass a stacks repository"))
    path = root / CONFIG_FILE
    if not path.exists() and not path.is_symlink():
        return RepoConfig(root)
    confine.real(root, path, CONFIG_FILE)
    text = documents.read_text(path, CONFIG_FILE)
    data = documents.loads_one(text, CONFIG_FILE) or {}
    problems = schemas.validate("csops", data, CONFIG_FILE, text)
    if problems:
        raise SourceError(problems)
    roots = tuple(_inside(root, r, CONFIG_FILE, "roots") for r in data.get("roots", ["providers"]))
    return RepoConfig(
        root=root,
        roots=roots,
        cluster_stacks=_inside(
            root, data.get("clusterStacks", "clusterstacks"), CONFIG_FILE, "clusterStacks"
        ),
        output=_inside(root, data.get("output", "rendered"), CONFIG_FILE, "output"),
        default_namespace=data.get("defaultNamespace", "default"),
        version_mode=data.get("versionMode", "stable"),
        kubernetes_versions=patches.parse_pins(text, CONFIG_FILE),
        custom_versions=custom.from_config(data, text, CONFIG_FILE),
        admission=_admission(data.get("admission", {})),
    )


def _admission(data: dict[str, Any] | bool) -> AdmissionConfig:
    """The ``admission`` block (already schema-valid); ``false`` turns policies off."""
    if isinstance(data, bool):
        return AdmissionConfig(enabled=data)
    actions = tuple(data.get("validationActions", DEFAULT_ACTIONS))
    if "Deny" in actions and "Warn" in actions:
        raise SourceError(
            Problem(
                CONFIG_FILE,
                "Deny and Warn cannot be combined",
                field="admission.validationActions",
                hint="use [Deny], [Warn], [Audit], [Deny, Audit] or [Warn, Audit]",
            )
        )
    return AdmissionConfig(
        enabled=bool(data.get("enabled", True)),
        actions=actions,
    )
