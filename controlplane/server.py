"""``ControlPlane``: etcd + kube-apiserver (+ kube-controller-manager) on loopback ports.

All state lives in one work directory::

    pki/        CA, serving cert, service-account key, admin token, token file
    etcd/       etcd data
    logs/       etcd.log, kube-apiserver.log, kube-controller-manager.log, audit.log
    run/        pid files, audit policy, controller-manager kubeconfig
    kubeconfig  admin kubeconfig (token auth), for ``kubernetes.config.new_client_from_config``

Processes run in their own process groups and are stopped by ``stop()``, which is also
registered with ``atexit``. ``stop_apiserver()`` / ``start_apiserver()`` restart only the API
server, on the same port and the same etcd.

Longer than our modules usually are, on purpose: one class owns the lifecycle of three
processes that share a work directory, and the command lines it builds read those paths.

Why one long module: the command lines, certificates and readiness checks of the three
servers depend on each other's ports and paths, and are kept together.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from csops.controlplane.audit import AuditLog, write_policy
from csops.controlplane.binaries import Binaries, locate_binaries
from csops.controlplane.certs import Credentials, ensure_credentials
from csops.controlplane.endpoint import Endpoint
from csops.controlplane.errors import StartupError
from csops.controlplane.kubeconfig import kubeconfig_document, write_kubeconfig
from csops.controlplane.ports import LOOPBACK, free_port, port_is_free
from csops.controlplane.processes import ServerProcess, log_tail

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

READY_TIMEOUT = 60.0
ETCD_TIMEOUT = 30.0
PORT_ATTEMPTS = 3
CONTROLLERS = "namespace-controller,garbage-collector-controller,serviceaccount-controller"
KCM_USER = "system:kube-controller-manager"


@dataclass
class Ports:
    """The loopback ports one control plane listens on."""

    etcd_client: int
    etcd_peer: int
    apiserver: int

    @classmethod
    def pick(cls) -> Ports:
        return cls(etcd_client=free_port(), etcd_peer=free_port(), apiserver=free_port())


class ControlPlane:
    """A real, single-node Kubernetes control plane for tests and local development."""

    def __init__(
        self,
        workdir: Path,
        *,
        name: str = "csops",
        binaries: Binaries | None = None,
        ports: Ports | None = None,
        controller_manager: bool | None = None,
        tied_to_parent: bool = True,
        stop_at_exit: bool = True,
        ready_timeout: float = READY_TIMEOUT,
    ) -> None:
        """``ports=None`` picks free ports (retrying on a clash); fixed ports are used as given.

        ``controller_manager=None`` runs kube-controller-manager when its binary exists.
        ``tied_to_parent`` makes the kernel stop the servers when this process dies;
        ``stop_at_exit`` registers :meth:`stop` with ``atexit``. The dev cluster turns both off.
        """
        self.workdir = workdir.resolve()
        self.name = name
        self._binaries = binaries
        self._fixed_ports = ports is not None
        self.ports = ports or Ports.pick()
        self._want_kcm = controller_manager
        self._tied = tied_to_parent
        self._stop_at_exit = stop_at_exit
        self.ready_timeout = ready_timeout
        self._etcd: ServerProcess | None = None
        self._apiserver: ServerProcess | None = None
        self._kcm: ServerProcess | None = None
        self._credentials: Credentials | None = None
        self.startup_seconds: float | None = None

    # ---------------------------------------------------------------- paths and properties
    @property
    def log_dir(self) -> Path:
        return self.workdir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.workdir / "run"

    @property
    def kubeconfig_path(self) -> Path:
        return self.workdir / "kubeconfig"

    @property
    def audit_log_path(self) -> Path:
        return self.log_dir / "audit.log"

    @property
    def url(self) -> str:
        return f"https://{LOOPBACK}:{self.ports.apiserver}"

    @property
    def etcd_url(self) -> str:
        return f"http://{LOOPBACK}:{self.ports.etcd_client}"

    @property
    def binaries(self) -> Binaries:
        if self._binaries is None:
            self._binaries = locate_binaries()
        return self._binaries

    @property
    def credentials(self) -> Credentials:
        if self._credentials is None:
            self._credentials = ensure_credentials(self.workdir / "pki")
        return self._credentials

    @property
    def endpoint(self) -> Endpoint:
        creds = self.credentials
        return Endpoint(self.url, creds.ca_pem, creds.admin_token)

    @property
    def has_controller_manager(self) -> bool:
        return self._kcm is not None

    @property
    def audit(self) -> AuditLog:
        """The audit log reader; its windows are delimited by GETs sent by the admin user."""
        return AuditLog(self.audit_log_path, marker=self._audit_marker)

    def pids(self) -> dict[str, int]:
        """Pids of the running servers by binary name."""
        procs = (self._etcd, self._apiserver, self._kcm)
        return {p.name: p.pid for p in procs if p is not None and p.pid is not None and p.alive()}

    def running(self) -> bool:
        return (
            self._etcd is not None
            and self._etcd.alive()
            and self._apiserver is not None
            and self._apiserver.alive()
        )

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> ControlPlane:
        """Start every server and wait until ``/readyz`` passes; idempotent."""
        if self.running():
            return self
        started = time.monotonic()
        for directory in (self.workdir, self.log_dir, self.run_dir):
            directory.mkdir(parents=True, exist_ok=True)
        _ = self.credentials, self.binaries
        write_policy(self.run_dir / "audit-policy.yaml")
        if self._stop_at_exit:
            atexit.register(self.stop)
        try:
            self._start_with_port_retries()
            self._write_admin_kubeconfig()
            if self._kcm_wanted():
                self._start_controller_manager()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def stop(self) -> None:
        """Stop every server (SIGTERM the process groups, then SIGKILL). Idempotent."""
        for attr in ("_kcm", "_apiserver", "_etcd"):
            proc: ServerProcess | None = getattr(self, attr)
            if proc is not None:
                proc.stop()
                setattr(self, attr, None)
        if self._stop_at_exit:
            atexit.unregister(self.stop)

    def stop_apiserver(self) -> None:
        """Stop only kube-apiserver; etcd (and the controller-manager) keep running."""
        if self._apiserver is not None:
            self._apiserver.stop()
            self._apiserver = None

    def start_apiserver(self) -> None:
        """Start kube-apiserver again on the same port and etcd; waits for ``/readyz``."""
        if self._apiserver is not None and self._apiserver.alive():
            return
        deadline = time.monotonic() + 10
        while not port_is_free(self.ports.apiserver) and time.monotonic() < deadline:
            time.sleep(0.1)
        self._apiserver = self._spawn("kube-apiserver", self._apiserver_argv())
        self._wait_apiserver_ready()

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- clients
    def api_client(self) -> ApiClient:
        """A fresh ``kubernetes.client.ApiClient`` for the admin user."""
        return api_client_from(self.kubeconfig_path)

    def kubeconfig_for(self, user: str, groups: tuple[str, ...] = ("system:masters",)) -> Path:
        """A kubeconfig for ``user`` (client certificate; default group system:masters).

        Requests made with it show up in the audit log under that user name.
        """
        cert, key = self.credentials.issue_client_cert(user, groups)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in user)
        document = kubeconfig_document(
            name=self.name,
            server=self.url,
            ca_pem=self.credentials.ca_pem,
            client_cert_pem=cert,
            client_key_pem=key,
            user=user,
        )
        return write_kubeconfig(self.workdir / "users" / f"{safe}.kubeconfig", document)

    def log_tail(self, lines: int = 50) -> str:
        """The last lines of each server log, with headers, for failure reports."""
        parts = []
        for name in ("etcd", "kube-apiserver", "kube-controller-manager"):
            path = self.log_dir / f"{name}.log"
            if path.exists():
                parts.append(f"---- {path} (last {lines} lines)\n{log_tail(path, lines)}")
        return "\n".join(parts)

    # ---------------------------------------------------------------- internals
    def _kcm_wanted(self) -> bool:
        if self._want_kcm is False:
            return False
        if self.binaries.kube_controller_manager is None:
            if self._want_kcm:
                raise StartupError("kube-controller-manager was requested but is not built")
            return False
        return True

    def _spawn(self, name: str, argv: list[str]) -> ServerProcess:
        proc = ServerProcess(
            name,
            argv,
            self.log_dir / f"{name}.log",
            self.run_dir / f"{name}.pid",
            tied=self._tied,
        )
        proc.start()
        return proc

    def _start_with_port_retries(self) -> None:
        attempts = 1 if self._fixed_ports else PORT_ATTEMPTS
        for attempt in range(1, attempts + 1):
            try:
                self._etcd = self._spawn("etcd", self._etcd_argv())
                self._wait_etcd_ready()
                self._apiserver = self._spawn("kube-apiserver", self._apiserver_argv())
                self._wait_apiserver_ready()
                return
            except StartupError as exc:
                self.stop()
                if attempt == attempts or "address already in use" not in str(exc):
                    raise
                self.ports = Ports.pick()

    def _etcd_argv(self) -> list[str]:
        peer = f"http://{LOOPBACK}:{self.ports.etcd_peer}"
        argv = [
            str(self.binaries.etcd),
            f"--name={self.name}",
            f"--data-dir={self.workdir / 'etcd'}",
            f"--listen-client-urls={self.etcd_url}",
            f"--advertise-client-urls={self.etcd_url}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster={self.name}={peer}",
            "--log-level=warn",
        ]
        if _supports_flag(self.binaries.etcd, "--unsafe-no-fsync"):
            argv.append("--unsafe-no-fsync=true")
        return argv

    def _apiserver_argv(self) -> list[str]:
        creds = self.credentials
        return [
            str(self.binaries.kube_apiserver),
            f"--etcd-servers={self.etcd_url}",
            f"--secure-port={self.ports.apiserver}",
            f"--bind-address={LOOPBACK}",
            f"--advertise-address={LOOPBACK}",
            "--endpoint-reconciler-type=none",
            f"--cert-dir={self.run_dir / 'apiserver-certs'}",
            f"--tls-cert-file={creds.serving_cert}",
            f"--tls-private-key-file={creds.serving_key}",
            f"--client-ca-file={creds.ca_cert}",
            f"--token-auth-file={creds.token_file}",
            "--authorization-mode=RBAC",
            "--disable-admission-plugins=ServiceAccount",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--allow-privileged=true",
            f"--service-account-issuer={self.url}",
            f"--service-account-key-file={creds.service_account_pub}",
            f"--service-account-signing-key-file={creds.service_account_key}",
            f"--audit-policy-file={self.run_dir / 'audit-policy.yaml'}",
            f"--audit-log-path={self.audit_log_path}",
            "--audit-log-format=json",
            "--audit-log-mode=blocking",
            "--audit-log-maxsize=1024",
            "--audit-log-maxbackup=1",
            "--audit-log-maxage=7",
            "--profiling=false",
            "-v=1",
        ]

    def _kcm_argv(self, kubeconfig: Path) -> list[str]:
        creds = self.credentials
        assert self.binaries.kube_controller_manager is not None
        return [
            str(self.binaries.kube_controller_manager),
            f"--kubeconfig={kubeconfig}",
            f"--controllers={CONTROLLERS}",
            f"--service-account-private-key-file={creds.service_account_key}",
            f"--root-ca-file={creds.ca_cert}",
            "--use-service-account-credentials=false",
            "--leader-elect=false",
            "--secure-port=0",
            "--kube-api-qps=100",
            "--kube-api-burst=200",
            "-v=1",
        ]

    def _start_controller_manager(self) -> None:
        cert, key = self.credentials.issue_client_cert(KCM_USER, ("system:masters",))
        document = kubeconfig_document(
            name=self.name,
            server=self.url,
            ca_pem=self.credentials.ca_pem,
            client_cert_pem=cert,
            client_key_pem=key,
            user=KCM_USER,
        )
        kubeconfig = write_kubeconfig(self.run_dir / "kube-controller-manager.kubeconfig", document)
        self._kcm = self._spawn("kube-controller-manager", self._kcm_argv(kubeconfig))

    def _write_admin_kubeconfig(self) -> None:
        creds = self.credentials
        document = kubeconfig_document(
            name=self.name, server=self.url, ca_pem=creds.ca_pem, token=creds.admin_token
        )
        write_kubeconfig(self.kubeconfig_path, document)

    def _fail(self, what: str) -> StartupError:
        return StartupError(f"{what} (work dir {self.workdir})\n{self.log_tail()}")

    def _wait_etcd_ready(self) -> None:
        deadline = time.monotonic() + ETCD_TIMEOUT
        while True:
            assert self._etcd is not None
            if not self._etcd.alive():
                raise self._fail(f"etcd exited with code {self._etcd.exit_code()}")
            if _etcd_healthy(self.etcd_url):
                return
            if time.monotonic() > deadline:
                raise self._fail(f"etcd at {self.etcd_url} not healthy after {ETCD_TIMEOUT:.0f}s")
            time.sleep(0.05)

    def _wait_apiserver_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        endpoint = self.endpoint
        while True:
            assert self._apiserver is not None
            if not self._apiserver.alive():
                raise self._fail(f"kube-apiserver exited with code {self._apiserver.exit_code()}")
            if self._etcd is not None and not self._etcd.alive():
                raise self._fail("etcd exited while kube-apiserver was starting")
            if endpoint.ready():
                return
            if time.monotonic() > deadline:
                raise self._fail(
                    f"kube-apiserver at {self.url} not ready after {self.ready_timeout:.0f}s"
                )
            time.sleep(0.1)

    def _audit_marker(self, name: str) -> None:
        status, body = self.endpoint.get(f"/api/v1/namespaces/{name}")
        if status not in (200, 404):
            raise StartupError(f"audit marker request failed: {status} {body[:200]!r}")


def api_client_from(kubeconfig: Path) -> ApiClient:
    """A ``kubernetes`` ApiClient for ``kubeconfig`` (``new_client_from_config``, typed)."""
    from kubernetes import config

    load: Callable[..., ApiClient] = config.new_client_from_config  # unannotated upstream
    return load(config_file=str(kubeconfig))


def close_api_client(client: ApiClient) -> None:
    """Close a ``kubernetes`` ApiClient's connection pool (``close`` is unannotated upstream)."""
    close: Callable[[], object] = client.close
    close()


def _etcd_healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=1.0) as resp:
            data: dict[str, Any] = json.loads(resp.read())
    except (OSError, ValueError):
        return False
    return str(data.get("health")) == "true"


_FLAG_CACHE: dict[tuple[Path, str], bool] = {}


def _supports_flag(binary: Path, flag: str) -> bool:
    """Whether ``binary --help`` mentions ``flag`` (cached per binary)."""
    key = (binary, flag)
    if key not in _FLAG_CACHE:
        import subprocess

        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            proc = subprocess.run(
                [str(binary), "--help"], capture_output=True, text=True, timeout=30, check=False
            )
            _FLAG_CACHE[key] = flag in proc.stdout + proc.stderr
    return _FLAG_CACHE.get(key, False)
