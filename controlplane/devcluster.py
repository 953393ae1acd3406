"""A long-lived local control plane for development, detached from the command that starts it.

State lives in ``${XDG_STATE_HOME:-~/.local/state}/csops/dev-cluster/``: the control plane's
work directory (certificates, etcd data, logs, kubeconfig) plus ``state.json`` with the ports
(remembered across ``down``/``up``, so the kubeconfig stays valid) and the server pids.
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
from csops.controlplane.crds import install_crds
from csops.controlplane.endpoint import Endpoint
from csops.controlplane.errors import ControlPlaneError
from csops.controlplane.ports import LOOPBACK, port_is_free
from csops.controlplane.processes import pid_runs, stop_group
from csops.controlplane.server import ControlPlane, Ports, close_api_client

STOP_ORDER = ("kube-controller-manager", "kube-apiserver", "etcd")
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
        return DevClusterStatus(running, ready, url, self.kubeconfig_path, live)

    def up(self, *, port: int | None = None, controller_manager: bool | None = None) -> bool:
        """Start the dev cluster and install the CAPI CRDs; False if it already ran."""
        with self._locked():
            current = self.status()
            if current.running and current.ready:
                return False
            if current.pids:  # half up (a crash, a killed server): clean the rest away first
                self._stop_pids(current.pids)
            state = DevClusterState.load(self.state_path)
            ports = self._choose_ports(state, port)
            plane = ControlPlane(
                self.directory,
                name="csops-dev",
                binaries=locate_binaries(),
                ports=ports,
                controller_manager=controller_manager,
                tied_to_parent=False,
                stop_at_exit=False,
            )
            try:
                plane.start()
                state = DevClusterState(
                    ports=asdict(plane.ports),
                    pids=plane.pids(),
                    kubernetes=pinned_versions()["kubernetes"],
                    startup_seconds=round(plane.startup_seconds or 0.0, 2),
                )
                state.save(self.state_path)
                client = plane.api_client()
                try:
                    install_crds(client)
                finally:
                    close_api_client(client)
            except BaseException:
                plane.stop()
                raise
            return True

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
