"""Release bundles of the rendered tree, looked up by ClusterClass name (dot → dash, once)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from csops.renderer import (
    ADDON_CONFIG,
    AddonConfig,
    Hook,
    Release,
    RendererError,
    Stage,
    StageAction,
    Version,
    addon_charts,
    class_to_release_name,
    load_addon_config,
    read_release,
)
from csops.syncer.addons.errors import ReleaseMissingError

AFTER_CONTROL_PLANE_INITIALIZED = Hook.AFTER_CONTROL_PLANE_INITIALIZED
BEFORE_CLUSTER_UPGRADE = Hook.BEFORE_CLUSTER_UPGRADE
OLD_CONVENTION_CHART = "cluster-addon"


@dataclass(frozen=True)
class ReleaseBundle:
    """One release's addon side: versions, stages per hook, charts (name → dir, values file)."""

    release: Release
    config: AddonConfig | None  # None: old convention (one chart, no stages)
    charts: dict[str, tuple[Path, Path | None]]

    @property
    def name(self) -> str:
        return self.release.name

    @property
    def kubernetes(self) -> str:
        return self.release.versions.kubernetes

    @property
    def addon_version(self) -> Version:
        return self.release.versions.cluster_addon

    @property
    def new_convention(self) -> bool:
        return self.config is not None

    def stages(self, hook: str) -> tuple[Stage, ...]:
        """The stages a hook runs; the old convention is one ``apply`` of its single chart."""
        if self.config is None:
            return (Stage(OLD_CONVENTION_CHART, StageAction.APPLY),) if self.charts else ()
        return self.config.stages.get(hook, ())

    def applied_charts(self, hook: str) -> list[str]:
        """Charts whose last action in ``hook`` is ``apply``: what the cluster holds afterwards."""
        last: dict[str, StageAction] = {}
        for stage in self.stages(hook):
            last[stage.name] = stage.action
        return [name for name, action in last.items() if action == StageAction.APPLY]


class ReleaseCatalog:
    """Reads release bundles from ``<releases>/<release-name>/`` once (they are immutable)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._cache: dict[str, ReleaseBundle] = {}
        self._lock = threading.Lock()

    def release_name(self, class_name: str) -> str:
        return class_to_release_name(class_name)

    def has_class(self, class_name: str) -> bool:
        """Whether a ClusterClass name belongs to one of our releases."""
        if not class_name:
            return False
        return (self.directory / self.release_name(class_name) / "metadata.yaml").is_file()

    def for_class(self, class_name: str) -> ReleaseBundle:
        name = self.release_name(class_name)
        with self._lock:
            cached = self._cache.get(name)
        if cached is not None:
            return cached
        directory = self.directory / name
        if not directory.is_dir():
            raise ReleaseMissingError(
                f"no release bundle {name} (for class {class_name}) under {self.directory}"
            )
        display = f"releases/{name}"
        try:
            release = read_release(directory, display)
            config = None
            if (directory / ADDON_CONFIG).is_file():
                config = load_addon_config(directory / ADDON_CONFIG, f"{display}/{ADDON_CONFIG}")
        except RendererError as exc:
            raise ReleaseMissingError(
                f"release {name} cannot be read: {exc}", reason="ClusterAddonConfigInvalid"
            ) from exc
        bundle = ReleaseBundle(release, config, addon_charts(directory, config is not None))
        with self._lock:
            self._cache[name] = bundle
        return bundle
