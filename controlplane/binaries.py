"""Find the etcd, kube-apiserver and kube-controller-manager binaries.

Order: ``CSOPS_ETCD`` / ``CSOPS_KUBE_APISERVER`` / ``CSOPS_KUBE_CONTROLLER_MANAGER``, then
``KUBEBUILDER_ASSETS`` (envtest layout), then the cache written by ``make control-plane``:
``${XDG_CACHE_HOME:-~/.cache}/csops/controlplane/<k8s>-etcd<ver>-go<ver>/bin/``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from csops.controlplane.errors import BinariesNotFoundError

STAMP_NAME = ".stamp.json"


@dataclass(frozen=True)
class Binaries:
    """Absolute paths of the server binaries; ``kube_controller_manager`` may be absent."""

    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path | None = None


def pinned_versions() -> dict[str, str]:
    """The Kubernetes and etcd versions ``make control-plane`` builds (``versions.json``)."""
    text = resources.files("csops.controlplane").joinpath("versions.json").read_text()
    data = json.loads(text)
    return {"kubernetes": str(data["kubernetes"]), "etcd": str(data["etcd"])}


def cache_root() -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/csops``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "csops"


def cached_bindir() -> Path | None:
    """The newest cache directory whose stamp matches the pinned versions, if any."""
    versions = pinned_versions()
    prefix = f"{versions['kubernetes'].lstrip('v')}-etcd{versions['etcd'].lstrip('v')}-go"
    candidates: list[Path] = []
    parent = cache_root() / "controlplane"
    if parent.is_dir():
        for entry in parent.iterdir():
            stamp = entry / "bin" / STAMP_NAME
            if entry.name.startswith(prefix) and stamp.is_file():
                candidates.append(stamp.parent)
    if not candidates:
        return None
    return max(candidates, key=lambda d: (d / STAMP_NAME).stat().st_mtime)


def _executable(path: Path, origin: str) -> Path:
    if not path.is_file() or not os.access(path, os.X_OK):
        raise BinariesNotFoundError(f"{origin}: {path} is not an executable file")
    return path.resolve()


def locate_binaries() -> Binaries:
    """Resolve the binaries or raise :class:`BinariesNotFoundError` with the fix."""
    env_etcd = os.environ.get("CSOPS_ETCD")
    env_apiserver = os.environ.get("CSOPS_KUBE_APISERVER")
    env_kcm = os.environ.get("CSOPS_KUBE_CONTROLLER_MANAGER")
    if env_etcd and env_apiserver:
        return Binaries(
            etcd=_executable(Path(env_etcd), "CSOPS_ETCD"),
            kube_apiserver=_executable(Path(env_apiserver), "CSOPS_KUBE_APISERVER"),
            kube_controller_manager=(
                _executable(Path(env_kcm), "CSOPS_KUBE_CONTROLLER_MANAGER") if env_kcm else None
            ),
        )
    if env_etcd or env_apiserver:
        raise BinariesNotFoundError(
            "set both CSOPS_ETCD and CSOPS_KUBE_APISERVER (or neither, to use the build cache)"
        )
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if assets:
        return _from_dir(Path(assets), "KUBEBUILDER_ASSETS", env_kcm)
    bindir = cached_bindir()
    if bindir is None:
        versions = pinned_versions()
        raise BinariesNotFoundError(
            f"no kube-apiserver/etcd for Kubernetes {versions['kubernetes']} in "
            f"{cache_root() / 'controlplane'}; run `make control-plane` once (it builds them "
            "through the Go module proxy in a few minutes), or point KUBEBUILDER_ASSETS or "
            "CSOPS_ETCD + CSOPS_KUBE_APISERVER at existing binaries"
        )
    return _from_dir(bindir, "make control-plane cache", env_kcm)


def _from_dir(directory: Path, origin: str, env_kcm: str | None) -> Binaries:
    kcm: Path | None = None
    if env_kcm:
        kcm = _executable(Path(env_kcm), "CSOPS_KUBE_CONTROLLER_MANAGER")
    elif (directory / "kube-controller-manager").is_file():
        kcm = _executable(directory / "kube-controller-manager", origin)
    return Binaries(
        etcd=_executable(directory / "etcd", origin),
        kube_apiserver=_executable(directory / "kube-apiserver", origin),
        kube_controller_manager=kcm,
    )
