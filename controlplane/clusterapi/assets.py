"""Find what ``make capi`` built: Cluster API's manager binaries and its providers' real CRDs.

Order: ``CSOPS_CAPI_DIR``, then the cache ``${XDG_CACHE_HOME:-~/.cache}/csops/capi/<ver>-go<ver>/``
whose stamp names the pinned Cluster API version (``controlplane/versions.json``). Layout::

    bin/<provider>-manager      core, kubeadm-bootstrap, kubeadm-control-plane, docker
    bin/.stamp.json
    providers/<provider>/crds/*.yaml, kustomization.yaml, webhooks.yaml
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from csops.controlplane.binaries import STAMP_NAME, cache_root
from csops.controlplane.errors import BinariesNotFoundError

# Providers with a manager, in start order; CRD-only providers have no binary.
MANAGERS = ("core", "kubeadm-bootstrap", "kubeadm-control-plane", "docker")
CRD_ONLY = ("openstack", "orc")


def pinned_cluster_api() -> str:
    """The Cluster API version ``make capi`` builds."""
    text = resources.files("csops.controlplane").joinpath("versions.json").read_text()
    return str(json.loads(text)["clusterApi"])


@dataclass(frozen=True)
class CapiAssets:
    """One built Cluster API: binaries and the per-provider config collected from its modules."""

    root: Path
    version: str

    def binary(self, provider: str) -> Path:
        return self.root / "bin" / f"{provider}-manager"

    def provider_dir(self, provider: str) -> Path:
        return self.root / "providers" / provider

    def crd_paths(self, provider: str) -> list[Path]:
        return sorted((self.provider_dir(provider) / "crds").glob("*.yaml"))

    @property
    def providers(self) -> tuple[str, ...]:
        return MANAGERS + CRD_ONLY


def _stamp(directory: Path) -> dict[str, object] | None:
    try:
        data = json.loads((directory / "bin" / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _check(directory: Path, origin: str) -> CapiAssets:
    stamp = _stamp(directory)
    if stamp is None:
        raise BinariesNotFoundError(f"{origin}: {directory} holds no bin/{STAMP_NAME}")
    assets = CapiAssets(directory.resolve(), str(stamp.get("clusterApi", "")))
    for provider in MANAGERS:
        binary = assets.binary(provider)
        if not (binary.is_file() and os.access(binary, os.X_OK)):
            raise BinariesNotFoundError(f"{origin}: {binary} is not an executable file")
    for provider in assets.providers:
        if not assets.crd_paths(provider):
            raise BinariesNotFoundError(f"{origin}: no CRDs in {assets.provider_dir(provider)}")
    return assets


def cached_capi_dir() -> Path | None:
    """The newest cache directory whose stamp names the pinned Cluster API version."""
    version = pinned_cluster_api()
    parent = cache_root() / "capi"
    candidates = [
        entry
        for entry in (parent.iterdir() if parent.is_dir() else ())
        if entry.name.startswith(f"{version.lstrip('v')}-go")
        and (_stamp(entry) or {}).get("clusterApi") == version
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda d: (d / "bin" / STAMP_NAME).stat().st_mtime)


def locate_capi() -> CapiAssets:
    """Resolve the assets or raise :class:`BinariesNotFoundError` saying how to build them."""
    override = os.environ.get("CSOPS_CAPI_DIR")
    if override:
        return _check(Path(override), "CSOPS_CAPI_DIR")
    directory = cached_capi_dir()
    if directory is None:
        raise BinariesNotFoundError(
            f"Cluster API {pinned_cluster_api()} is not built in {cache_root() / 'capi'}; run "
            "`make capi` once (it builds the managers through the Go module proxy in a few "
            "minutes), or point CSOPS_CAPI_DIR at a directory it built"
        )
    return _check(directory, "make capi cache")
