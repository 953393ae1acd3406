"""The renderer: ClusterStack sources in git become a committed, deterministic tree.

Public API (the syncer may use these, nothing else):

- :func:`render_repo`, :func:`write`, :class:`RenderResult` — render a stacks repository;
- :func:`stack_hash`, :func:`source_hashes`, :func:`dirhash_h1`, :func:`clean`,
  :func:`hash_version` — csctl-compatible hashes and hash-mode versions;
- :func:`render_addon`, :func:`template_values`, :func:`load_addon_config`,
  :func:`addon_charts` — per-cluster addon rendering from a release bundle;
- :func:`read_release` and :class:`Release` — read one release bundle;
- addon stages: :data:`ADDON_CONFIG`, :data:`HOOKS`, :class:`Hook`, :class:`StageAction`;
- names and versions: :class:`Version`, :class:`VersionError`, :class:`StackId`,
  :func:`parse_release_name`,
  :func:`class_to_release_name`;
- custom mode: :class:`CustomVersions`, :func:`custom_versions`;
- published releases: :func:`import_releases` (:class:`Imported`) and :func:`link_cso_layout`
  (:class:`Linked`), CSO's ``--local`` layout over the bundles;
- errors: :class:`RendererError` and :class:`Problem`.

The names are imported on first use (PEP 562): the syncer reads a few constants from here, and
importing the whole renderer (Helm, JSON Schema, GitPython) for them would cost a sync command
the better part of a second at start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from csops.renderer.addons import (
        ADDON_CONFIG,
        HOOKS,
        AddonConfig,
        Condition,
        Hook,
        Stage,
        StageAction,
        addon_charts,
        render_addon,
        template_values,
    )
    from csops.renderer.addons import load_config as load_addon_config
    from csops.renderer.csolocal import Linked
    from csops.renderer.csolocal import link as link_cso_layout
    from csops.renderer.custom import CustomVersions
    from csops.renderer.custom import from_flags as custom_versions
    from csops.renderer.errors import Problem, RendererError
    from csops.renderer.hashes import StackHashes, clean, dirhash_h1, source_hashes, stack_hash
    from csops.renderer.ledger import Release, read_release
    from csops.renderer.manifests import INSTANCE_LABEL, PRUNE_ANNOTATION, RELEASES_ANNOTATION
    from csops.renderer.names import StackId, class_to_release_name, parse_release_name
    from csops.renderer.published import Imported, import_releases
    from csops.renderer.render import RenderResult, render_repo, write
    from csops.renderer.versions import Version, VersionError, hash_version

_HOMES = {
    "csops.renderer.addons": (
        "ADDON_CONFIG HOOKS AddonConfig Condition Hook Stage StageAction addon_charts "
        "render_addon template_values load_config:load_addon_config"
    ),
    "csops.renderer.csolocal": "Linked link:link_cso_layout",
    "csops.renderer.custom": "CustomVersions from_flags:custom_versions",
    "csops.renderer.errors": "Problem RendererError",
    "csops.renderer.hashes": "StackHashes clean dirhash_h1 source_hashes stack_hash",
    "csops.renderer.ledger": "Release read_release",
    "csops.renderer.manifests": "INSTANCE_LABEL PRUNE_ANNOTATION RELEASES_ANNOTATION",
    "csops.renderer.names": "StackId class_to_release_name parse_release_name",
    "csops.renderer.published": "Imported import_releases",
    "csops.renderer.render": "RenderResult render_repo write",
    "csops.renderer.versions": "Version VersionError hash_version",
}
_WHERE: dict[str, tuple[str, str]] = {
    public: (module, inner)
    for module, names in _HOMES.items()
    for inner, _, alias in (entry.partition(":") for entry in names.split())
    for public in [alias or inner]
}
"""Each public name: the module that defines it, and its name there."""


def __getattr__(name: str) -> Any:
    """A public name, imported from its module the first time it is asked for."""
    try:
        module, inner = _WHERE[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), inner)
    globals()[name] = value
    return value


__all__ = [
    "ADDON_CONFIG",
    "HOOKS",
    "INSTANCE_LABEL",
    "PRUNE_ANNOTATION",
    "RELEASES_ANNOTATION",
    "AddonConfig",
    "Condition",
    "CustomVersions",
    "Hook",
    "Imported",
    "Linked",
    "Problem",
    "Release",
    "RenderResult",
    "RendererError",
    "StackHashes",
    "StackId",
    "Stage",
    "StageAction",
    "Version",
    "VersionError",
    "addon_charts",
    "class_to_release_name",
    "clean",
    "custom_versions",
    "dirhash_h1",
    "hash_version",
    "import_releases",
    "link_cso_layout",
    "load_addon_config",
    "parse_release_name",
    "read_release",
    "render_addon",
    "render_repo",
    "source_hashes",
    "stack_hash",
    "template_values",
    "write",
]
