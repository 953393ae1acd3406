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
"""

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
