"""A long-lived local control plane for development, detached from the command that starts it.

By default it runs Cluster API too (core with ClusterTopology and RuntimeSDK, kubeadm bootstrap
and control plane, CAPD; real CRDs and webhooks; controllers in every namespace), so a Cluster
created on a synced ClusterClass gets its topology. State lives in
``${XDG_STATE_HOME:-~/.local/state}/csops/dev-cluster/``: the control plane's work directory
(certificates, etcd data, logs, kubeconfig) plus ``state.json`` with the ports (the API
server's are remembered across ``down``/``up``, so the kubeconfig stays valid) and the pids.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from csops.controlplane.binaries import locate_binaries, pinned_versions
from csops.controlplane.certs import ensure_credentials
from csops.controlplane.clusterapi import ClusterApi, locate_capi
from csops.controlplane.clusterapi.assets import MANAGERS
from csops.controlplane.clusterapi.managers import process_name
from csops.controlplane.endpoint import Endpoint
from csops.controlplane.errors import ControlPlaneError
from csops.controlplane.ports import LOOPBACK, port_is_free
from csops.controlplane.processes import pid_runs, stop_group
from csops.controlplane.server import ControlPlane, Ports

CAPI_PROCESSES = tuple(process_name(p) for p in reversed(MANAGERS))
STOP_ORDER = (*CAPI_PROCESSES, "kube-controller-manager", "kube-apiserver", "etcd")
STOP_TIMEOUT = 15.0


def state_dir() -> Path:
    """``${XDG_STATE_HOME:-~/.local/state}/csops/dev-cluster``."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "csops" / "dev-cluster"


@dataclass
class DevClusterState:
    """What ``state.json`` records."""

    ports: dict[str, int] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)
    kubernetes: str = ""
    startup_seconds: float = 0.0
    cluster_api: str = ""
    cluster_api_ports: dict[str, dict[str, int]] = field(default_factory=dict)
    cluster_api_startup_seconds: float = 0.0

    @classmethod
    def load(cls, path: Path) -> DevClusterState:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return cls()
        return cls(
            ports={k: int(v) for k, v in (data.get("ports") or {}).items()},
            pids={k: int(v) for k, v in (data.get("pids") or {}).items()},
            kubernetes=str(data.get("kubernetes", "")),
            startup_seconds=float(data.get("startup_seconds", 0.0)),
            cluster_api=str(data.get("cluster_api", "")),
            cluster_api_ports={
                str(k): {str(n): int(p) for n, p in v.items()}
                for k, v in (data.get("cluster_api_ports") or {}).items()
            },
            cluster_api_startup_seconds=float(data.get("cluster_api_startup_seconds", 0.0)),
        )

    def save(self, path: Path) -> None:
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")
        partial.replace(path)


@dataclass(frozen=True)
class DevClusterStatus:
    """The answer of :meth:`DevCluster.status`."""

    running: bool
    ready: bool
    url: str | None
    kubeconfig: Path
    pids: dict[str, int]
    cluster_api: str = ""

    @property
    def cluster_api_running(self) -> bool:
        return all(name in self.pids for name in CAPI_PROCESSES)


class DevCluster:
    """``up`` / ``down`` / ``status`` of the dev control plane under one state directory."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = (directory or state_dir()).resolve()

    @property
    def state_path(self) -> Path:
        return self.directory / "state.json"

    @property
    def kubeconfig_path(self) -> Path:
        return self.directory / "kubeconfig"

    @property
    def log_dir(self) -> Path:
        return self.directory / "logs"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / ".lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _live_pids(self, state: DevClusterState) -> dict[str, int]:
        return {name: pid for name, pid in state.pids.items() if pid_runs(pid, name)}

    def _url(self, state: DevClusterState) -> str | None:
        port = state.ports.get("apiserver")
        return f"https://{LOOPBACK}:{port}" if port else None

    def status(self) -> DevClusterStatus:
        """Which servers run and whether ``/readyz`` passes."""
        state = DevClusterState.load(self.state_path)
        live = self._live_pids(state)
        url = self._url(state)
        running = "etcd" in live and "kube-apiserver" in live
        ready = False
        if running and url is not None:
            creds = ensure_credentials(self.directory / "pki")
            ready = Endpoint(url, creds.ca_pem, creds.admin_token).ready()
        capi = state.cluster_api if all(n in live for n in CAPI_PROCESSES) else ""
        return DevClusterStatus(running, ready, url, self.kubeconfig_path, live, capi)

    def up(
        self,
        *,
        port: int | None = None,
        controller_manager: bool | None = None,
        cluster_api: bool = True,
    ) -> bool:
        """Start the dev cluster (and Cluster API unless ``cluster_api=False``).

        Returns False when everything asked for already ran. Cluster API missing from a
        running plane is started on it; a half-up plane is cleaned away and started afresh.
        """
        with self._locked():
            assets = locate_capi() if cluster_api else None  # fail before starting anything
            current = self.status()
            plane_up = current.running and current.ready
            if plane_up and (not cluster_api or current.cluster_api_running):
                return False
            state = DevClusterState.load(self.state_path)
            if not plane_up and current.pids:  # a crash, a killed server: clean up first
                self._stop_pids(current.pids)
            elif plane_up:  # leftover managers of an earlier Cluster API
                self._stop_pids({k: v for k, v in current.pids.items() if k in CAPI_PROCESSES})
            ports = Ports(**state.ports) if plane_up else self._choose_ports(state, port)
            plane = self._plane(ports, controller_manager)
            capi: ClusterApi | None = None
            try:
                if plane_up:
                    state.pids = {k: v for k, v in current.pids.items() if k not in CAPI_PROCESSES}
                else:
                    plane.start()
                    state.ports = asdict(plane.ports)
                    state.pids = plane.pids()
                    state.kubernetes = pinned_versions()["kubernetes"]
                    state.startup_seconds = round(plane.startup_seconds or 0.0, 2)
                state.cluster_api, state.cluster_api_ports = "", {}
                state.save(self.state_path)
                if assets is not None:
                    capi = ClusterApi(
                        plane, assets=assets, tied_to_parent=False, stop_at_exit=False
                    )
                    capi.start()
                    state.pids.update(capi.pids())
                    state.cluster_api = assets.version
                    state.cluster_api_ports = capi.port_table()
                    state.cluster_api_startup_seconds = round(capi.startup_seconds or 0.0, 2)
                    state.save(self.state_path)
            except BaseException:
                if capi is not None:
                    capi.stop()
                if not plane_up:
                    plane.stop()
                raise
            return True

    def _plane(self, ports: Ports, controller_manager: bool | None) -> ControlPlane:
        return ControlPlane(
            self.directory,
            name="csops-dev",
            binaries=locate_binaries(),
            ports=ports,
            controller_manager=controller_manager,
            tied_to_parent=False,
            stop_at_exit=False,
        )

    def down(self, *, purge: bool = False) -> list[str]:
        """Stop every server of the dev cluster; returns the names stopped.

        ``purge`` also deletes the state directory (etcd data, certificates, kubeconfig).
        """
        with self._locked():
            state = DevClusterState.load(self.state_path)
            live = self._live_pids(state)
            self._stop_pids(live)
            state.pids = {}
            if self.state_path.exists():
                state.save(self.state_path)
        if purge:
            shutil.rmtree(self.directory, ignore_errors=True)
        return [name for name in STOP_ORDER if name in live]

    def _stop_pids(self, pids: dict[str, int]) -> None:
        for name in STOP_ORDER:
            pid = pids.get(name)
            if pid is not None and pid_runs(pid, name):
                stop_group(pid, STOP_TIMEOUT)
            (self.directory / "run" / f"{name}.pid").unlink(missing_ok=True)

    def _choose_ports(self, state: DevClusterState, port: int | None) -> Ports:
        remembered = (
            Ports(**state.ports)
            if set(state.ports)
            == {
                "etcd_client",
                "etcd_peer",
                "apiserver",
            }
            else None
        )
        fresh = Ports.pick()
        chosen = remembered or fresh
        if port is not None:
            chosen.apiserver = port
        for attr in ("etcd_client", "etcd_peer", "apiserver"):
            value = getattr(chosen, attr)
            if not port_is_free(value):
                if attr == "apiserver" and port is not None:
                    raise ControlPlaneError(f"port {port} on {LOOPBACK} is already in use")
                setattr(chosen, attr, getattr(fresh, attr))
        return chosen
