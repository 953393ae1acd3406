"""``ClusterApi``: Cluster API's real managers as local processes against a :class:`ControlPlane`.

Core (with the ``ClusterTopology`` and ``RuntimeSDK`` feature gates), kubeadm bootstrap,
kubeadm control plane and CAPD run from the binaries ``make capi`` built, each with its own
client-certificate user (``capi-<provider>`` in the audit log), free loopback ports for
webhooks, health and diagnostics, and no leader election. Start order:

1. the real CRDs of every provider (contract labels, URL conversion webhooks, CAPO and ORC
   CRDs too), Established;
2. the managers, until each ``/readyz`` passes (which includes its webhook server);
3. the URL-based admission webhook configurations;
4. a dry-run Cluster, until conversion, defaulting and validation answer.

The controllers watch every namespace: with ``--namespace`` the webhooks, which read through the
managers' caches, fail for objects elsewhere. All state is under ``<plane>/cluster-api/``; logs
are ``<plane>/logs/capi-<provider>.log``.
"""

from __future__ import annotations

import atexit
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from csops.controlplane.clusterapi.assets import MANAGERS, CapiAssets, locate_capi
from csops.controlplane.clusterapi.manifests import (
    contract_labels,
    prepare_crd,
    webhook_configurations,
)
from csops.controlplane.crds import install_crds, load_crds
from csops.controlplane.errors import StartupError
from csops.controlplane.ports import LOOPBACK, free_port
from csops.controlplane.processes import ServerProcess, log_tail
from csops.controlplane.server import close_api_client

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

    from csops.controlplane.server import ControlPlane

READY_TIMEOUT = 120.0
# CRDs of kinds nothing here creates, left out to save start-up time (the API server compiles
# every CRD's schema and validation rules): CAPD's in-memory "Dev" backend and machine pools
# (its launcher runs neither), the objects only CAPO's and ORC's own controllers create (they do
# not run here), and every ORC kind but the Image a stack ships.
UNUSED_CRDS = frozenset(
    {
        *(
            f"{kind}.infrastructure.cluster.x-k8s.io"
            for kind in (
                "devclusters",
                "devclustertemplates",
                "devmachines",
                "devmachinetemplates",
                "devmachinepools",
                "devmachinepooltemplates",
                "dockermachinepools",
                "dockermachinepooltemplates",
                "openstackfloatingippools",
                "openstackservers",
            )
        ),
        *(
            f"{kind}.openstack.k-orc.cloud"
            for kind in (
                "flavors",
                "floatingips",
                "networks",
                "ports",
                "projects",
                "routerinterfaces",
                "routers",
                "securitygroups",
                "servergroups",
                "servers",
                "subnets",
            )
        ),
    }
)
PORT_ATTEMPTS = 3
FEATURE_GATES = "ClusterTopology=true,RuntimeSDK=true"
CLIENT_USER_PREFIX = "capi-"


@dataclass
class ManagerPorts:
    """The loopback ports of one manager."""

    webhook: int
    health: int
    diagnostics: int

    @classmethod
    def pick(cls) -> ManagerPorts:
        return cls(webhook=free_port(), health=free_port(), diagnostics=free_port())


def process_name(provider: str) -> str:
    """The executable (and pid-file) name of a provider's manager."""
    return f"{provider}-manager"


class ClusterApi:
    """Cluster API core, kubeadm bootstrap and control plane, and CAPD on one control plane."""

    def __init__(
        self,
        plane: ControlPlane,
        *,
        assets: CapiAssets | None = None,
        ports: dict[str, ManagerPorts] | None = None,
        tied_to_parent: bool = True,
        stop_at_exit: bool = True,
        ready_timeout: float = READY_TIMEOUT,
    ) -> None:
        """``ports=None`` picks free ports (retrying on a clash); given ports are used as is."""
        self.plane = plane
        self._assets = assets
        self._fixed_ports = ports is not None
        self.ports = ports or {p: ManagerPorts.pick() for p in MANAGERS}
        self._tied = tied_to_parent
        self._stop_at_exit = stop_at_exit
        self.ready_timeout = ready_timeout
        self._procs: dict[str, ServerProcess] = {}
        self.crds: list[str] = []
        self.webhook_configurations: list[str] = []
        self.startup_seconds: float | None = None
        self.timings: dict[str, float] = {}  # seconds per start phase, for docs and benches

    # ---------------------------------------------------------------- paths and properties
    @property
    def assets(self) -> CapiAssets:
        if self._assets is None:
            self._assets = locate_capi()
        return self._assets

    @property
    def workdir(self) -> Path:
        return self.plane.workdir / "cluster-api"

    @property
    def cert_dir(self) -> Path:
        return self.workdir / "webhook-certs"

    def log_path(self, provider: str) -> Path:
        return self.plane.log_dir / f"capi-{provider}.log"

    def webhook_url(self, provider: str) -> str:
        return f"https://{LOOPBACK}:{self.ports[provider].webhook}"

    def user(self, provider: str) -> str:
        """The user a provider's manager authenticates as (what the audit log shows)."""
        return CLIENT_USER_PREFIX + provider

    def pids(self) -> dict[str, int]:
        """Pids of the running managers by executable name."""
        return {p.name: p.pid for p in self._procs.values() if p.pid is not None and p.alive()}

    def port_table(self) -> dict[str, dict[str, int]]:
        return {provider: asdict(ports) for provider, ports in self.ports.items()}

    def running(self) -> bool:
        return len(self._procs) == len(MANAGERS) and all(p.alive() for p in self._procs.values())

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> ClusterApi:
        """Install the CRDs, start the managers, wait until ready, install the webhooks."""
        if self.running():
            return self
        started = time.monotonic()
        _ = self.assets
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._write_serving_cert()
        if self._stop_at_exit:
            atexit.register(self.stop)
        client = self.plane.api_client()
        try:
            self._start_with_port_retries(client)
            mark = time.monotonic()
            self.webhook_configurations = self._install_webhooks(client)
            self._wait_webhooks_answer(client)
            self.timings["webhooks"] = time.monotonic() - mark
        except BaseException:
            self.stop()
            raise
        finally:
            close_api_client(client)
        self.startup_seconds = time.monotonic() - started
        return self

    def stop(self) -> None:
        """Stop every manager (reverse start order). Idempotent."""
        for provider in reversed(MANAGERS):
            proc = self._procs.pop(provider, None)
            if proc is not None:
                proc.stop()
        if self._stop_at_exit:
            atexit.unregister(self.stop)

    def __enter__(self) -> ClusterApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of each manager log, with headers, for failure reports."""
        parts = []
        for provider in MANAGERS:
            path = self.log_path(provider)
            if path.exists():
                parts.append(f"---- {path} (last {lines} lines)\n{log_tail(path, lines)}")
        return "\n".join(parts)

    # ---------------------------------------------------------------- manifests
    def crd_documents(self) -> list[dict[str, Any]]:
        """Every provider's CRDs, labelled and wired to the managers' conversion webhooks."""
        ca = self.plane.credentials.ca_pem
        documents = []
        for provider in self.assets.providers:
            labels = contract_labels(self._provider_yaml(provider, "kustomization.yaml"))
            url = self.webhook_url(provider) if provider in MANAGERS else None
            documents += [
                prepare_crd(crd, labels=labels, webhook_url=url, ca_bundle=ca)
                for crd in load_crds(self.assets.crd_paths(provider))
                if crd["metadata"]["name"] not in UNUSED_CRDS
            ]
        return documents

    def webhook_documents(self) -> list[dict[str, Any]]:
        ca = self.plane.credentials.ca_pem
        documents = []
        for provider in MANAGERS:
            path = self.assets.provider_dir(provider) / "webhooks.yaml"
            if path.is_file():
                documents += webhook_configurations(
                    yaml.safe_load_all(path.read_text()),
                    provider=provider,
                    webhook_url=self.webhook_url(provider),
                    ca_bundle=ca,
                )
        return documents

    def _provider_yaml(self, provider: str, name: str) -> dict[str, Any] | None:
        path = self.assets.provider_dir(provider) / name
        if not path.is_file():
            return None
        loaded: dict[str, Any] | None = yaml.safe_load(path.read_text())
        return loaded

    # ---------------------------------------------------------------- internals
    def _write_serving_cert(self) -> None:
        cert, key = self.plane.credentials.issue_serving_cert("cluster-api-webhooks")
        self.cert_dir.mkdir(parents=True, exist_ok=True)
        key_path = self.cert_dir / "tls.key"
        key_path.touch(mode=0o600, exist_ok=True)
        key_path.write_bytes(key)
        (self.cert_dir / "tls.crt").write_bytes(cert)

    def _argv(self, provider: str) -> list[str]:
        ports = self.ports[provider]
        kubeconfig = self.plane.kubeconfig_for(self.user(provider))
        return [
            str(self.assets.binary(provider)),
            f"--kubeconfig={kubeconfig}",
            "--leader-elect=false",
            f"--webhook-port={ports.webhook}",
            f"--webhook-cert-dir={self.cert_dir}",
            f"--health-addr={LOOPBACK}:{ports.health}",
            f"--diagnostics-address={LOOPBACK}:{ports.diagnostics}",
            "--insecure-diagnostics",
            f"--feature-gates={FEATURE_GATES}",
        ]

    def _spawn(self, provider: str) -> ServerProcess:
        name = process_name(provider)
        proc = ServerProcess(
            name,
            self._argv(provider),
            self.log_path(provider),
            self.plane.run_dir / f"{name}.pid",
            tied=self._tied,
        )
        proc.start()
        return proc

    def _start_with_port_retries(self, client: ApiClient) -> None:
        attempts = 1 if self._fixed_ports else PORT_ATTEMPTS
        for attempt in range(1, attempts + 1):
            try:
                mark = time.monotonic()
                self.crds = install_crds(client, self.crd_documents())
                self.timings["crds"] = time.monotonic() - mark
                mark = time.monotonic()
                for provider in MANAGERS:
                    self._procs[provider] = self._spawn(provider)
                self._wait_ready()
                self.timings["managers"] = time.monotonic() - mark
                return
            except StartupError as exc:
                self.stop()
                if attempt == attempts or "address already in use" not in str(exc):
                    raise
                self.ports = {p: ManagerPorts.pick() for p in MANAGERS}

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        waiting = list(MANAGERS)
        while waiting:
            for provider in list(waiting):
                proc = self._procs[provider]
                if not proc.alive():
                    raise self._fail(f"{proc.name} exited with code {proc.exit_code()}")
                if _healthy(self.ports[provider].health):
                    waiting.remove(provider)
            if waiting and time.monotonic() > deadline:
                raise self._fail(f"{', '.join(waiting)} not ready after {self.ready_timeout:.0f}s")
            if waiting:
                time.sleep(0.1)

    def _install_webhooks(self, client: ApiClient) -> list[str]:
        from kubernetes.client import AdmissionregistrationV1Api
        from kubernetes.client.exceptions import ApiException

        api: Any = AdmissionregistrationV1Api(client)
        names = []
        for document in self.webhook_documents():
            mutating = document["kind"].startswith("Mutating")
            kind = "mutating" if mutating else "validating"
            name = document["metadata"]["name"]
            create = getattr(api, f"create_{kind}_webhook_configuration")
            try:
                create(body=document)
            except ApiException as exc:
                if exc.status != 409:
                    raise StartupError(f"creating {name}: {exc.status} {exc.body}") from exc
                getattr(api, f"delete_{kind}_webhook_configuration")(name=name)
                create(body=document)
            names.append(name)
        return names

    def _wait_webhooks_answer(self, client: ApiClient) -> None:
        """Until a dry-run v1beta1 Cluster passes conversion, defaulting and validation.

        ``/readyz`` only says the webhook servers listen; their handlers also wait for the
        managers' caches, and until then the API server answers 500.
        """
        from kubernetes.client import CustomObjectsApi
        from kubernetes.client.exceptions import ApiException

        api: Any = CustomObjectsApi(client)
        probe = {
            "apiVersion": "cluster.x-k8s.io/v1beta1",
            "kind": "Cluster",
            "metadata": {"name": "csops-webhook-probe", "namespace": "default"},
            "spec": {"topology": {"class": "csops-webhook-probe", "version": "v1.30.0"}},
        }
        deadline = time.monotonic() + self.ready_timeout
        while True:
            try:
                api.create_namespaced_custom_object(
                    "cluster.x-k8s.io", "v1beta1", "default", "clusters", probe, dry_run="All"
                )
                return
            except ApiException as exc:
                if exc.status in (400, 409, 422):
                    return  # an answer from the webhooks
                if time.monotonic() > deadline:
                    raise self._fail(f"webhooks do not answer: {exc.status} {exc.body}") from exc
            time.sleep(0.2)

    def _fail(self, what: str) -> StartupError:
        where = f"logs in {self.plane.log_dir}"
        return StartupError(f"Cluster API: {what} ({where})\n{self.log_tail()}")


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/readyz", timeout=1.0) as resp:
            return int(resp.status) == 200
    except OSError:
        return False
