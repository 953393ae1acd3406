"""Helpers for flows on real Cluster API: the csops CLI as a user runs it, a stacks repository
with a git remote, and the parts of a cloud that cannot run here played by the test.

Cluster API's controllers run for real (``cluster_api``); what they would get from machines
that do not exist here is written by the test and named as such: the infrastructure provider
marking a cluster provisioned with an endpoint, ``kubeadm init`` writing ``kubeadm-config``,
the kubelets and workload controllers reporting DaemonSets and Deployments ready.
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest
import yaml
from kubernetes import client
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from csops.controlplane import ControlPlane
from csops.controlplane.ports import free_port
from tests.syncer.conftest import git

CSOPS = str(Path(sys.executable).parent / "csops")
REPO_ROOT = Path(__file__).resolve().parents[2]
STACKS = REPO_ROOT / "stacks"
T = TypeVar("T")

# kind -> (group, plural) for the objects the flow reads and writes
PLURALS = {
    "Cluster": ("cluster.x-k8s.io", "clusters"),
    "ClusterClass": ("cluster.x-k8s.io", "clusterclasses"),
    "MachineDeployment": ("cluster.x-k8s.io", "machinedeployments"),
    "KubeadmControlPlane": ("controlplane.cluster.x-k8s.io", "kubeadmcontrolplanes"),
    "DockerCluster": ("infrastructure.cluster.x-k8s.io", "dockerclusters"),
    "DockerMachineTemplate": ("infrastructure.cluster.x-k8s.io", "dockermachinetemplates"),
    "OpenStackCluster": ("infrastructure.cluster.x-k8s.io", "openstackclusters"),
    "OpenStackMachineTemplate": ("infrastructure.cluster.x-k8s.io", "openstackmachinetemplates"),
    "ExtensionConfig": ("runtime.cluster.x-k8s.io", "extensionconfigs"),
    "ClusterStack": ("clusterstack.x-k8s.io", "clusterstacks"),
    "ClusterStackRelease": ("clusterstack.x-k8s.io", "clusterstackreleases"),
    "ClusterAddon": ("clusterstack.x-k8s.io", "clusteraddons"),
    "Image": ("openstack.k-orc.cloud", "images"),
}


def run_csops(*args: str, env: dict[str, str] | None = None) -> str:
    """Run the ``csops`` CLI; fail with its output unless it exits 0."""
    proc = subprocess.run(
        [CSOPS, *args],
        env={**os.environ, **(env or {})},
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"csops {' '.join(args)}: {proc.stdout}\n{proc.stderr}"
    return proc.stdout


class Objects:
    """Custom objects of one plane by kind, as plain dicts (the official client, no csops)."""

    def __init__(self, api_client: ApiClient) -> None:
        self.api: Any = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)

    @staticmethod
    def _where(kind: str, version: str, namespace: str) -> tuple[str, str, str, str]:
        """(group, version, namespace, plural): the order the client's calls take."""
        group, plural = PLURALS[kind]
        return group, version, namespace, plural

    def get(
        self, kind: str, namespace: str, name: str, version: str = "v1beta2"
    ) -> dict[str, Any] | None:
        try:
            obj = self.api.get_namespaced_custom_object(
                *self._where(kind, version, namespace), name
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return cast(dict[str, Any], obj)

    def list(self, kind: str, namespace: str, version: str = "v1beta2") -> list[dict[str, Any]]:
        items = self.api.list_namespaced_custom_object(*self._where(kind, version, namespace))
        return cast(list[dict[str, Any]], items["items"])

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        group_version, kind = body["apiVersion"], body["kind"]
        group, plural = PLURALS[kind]
        version = group_version.split("/")[1]
        namespace = body["metadata"].get("namespace")
        if namespace is None:
            return cast(
                dict[str, Any], self.api.create_cluster_custom_object(group, version, plural, body)
            )
        return cast(
            dict[str, Any],
            self.api.create_namespaced_custom_object(group, version, namespace, plural, body),
        )

    def patch(
        self,
        kind: str,
        namespace: str,
        name: str,
        patch: dict[str, Any],
        *,
        version: str = "v1beta2",
        status: bool = False,
    ) -> dict[str, Any]:
        """A JSON merge patch (of the status subresource with ``status=True``)."""
        api = self.api
        call = (
            api.patch_namespaced_custom_object_status
            if status
            else api.patch_namespaced_custom_object
        )
        group, plural = PLURALS[kind]
        return cast(dict[str, Any], call(group, version, namespace, plural, name, patch))

    def delete(self, kind: str, namespace: str, name: str, version: str = "v1beta2") -> None:
        with contextlib.suppress(ApiException):
            self.api.delete_namespaced_custom_object(*self._where(kind, version, namespace), name)


def condition(obj: dict[str, Any] | None, ctype: str) -> dict[str, Any]:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return dict(cond)
    return {}


@dataclass
class StacksRepo:
    """The example stacks rendered into one namespace, committed and pushed to a bare remote."""

    work: Path
    remote: Path
    namespace: str

    @classmethod
    def create(cls, root: Path, namespace: str) -> StacksRepo:
        work = root / "work"
        import shutil

        shutil.copytree(STACKS, work, ignore=shutil.ignore_patterns("rendered"))
        config = work / "csops.yaml"
        config.write_text(
            config.read_text().replace(
                "defaultNamespace: cluster", f"defaultNamespace: {namespace}"
            )
        )
        for stack in (work / "clusterstacks").glob("*.yaml"):
            stack.write_text(
                stack.read_text().replace("namespace: cluster\n", f"namespace: {namespace}\n")
            )
        remote = root / "remote.git"
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
        git(work, "init", "-q", "-b", "main")
        git(work, "remote", "add", "origin", remote.as_uri())
        repo = cls(work, remote, namespace)
        repo.render_and_push("example stacks")
        return repo

    @property
    def url(self) -> str:
        return self.remote.as_uri()

    @property
    def head(self) -> str:
        """The commit last pushed."""
        return git(self.work, "rev-parse", "HEAD")

    @property
    def releases(self) -> Path:
        return self.work / "rendered" / "releases"

    def render_and_push(self, message: str) -> str:
        """``csops validate`` and ``csops render`` (the CI of the stacks repo), then commit."""
        run_csops("validate", str(self.work))
        run_csops("render", str(self.work))
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", message)
        git(self.work, "push", "-q", "origin", "HEAD:main")
        return git(self.work, "rev-parse", "HEAD")

    def set_versions(self, cluster_stack: str, versions: list[str]) -> None:
        path = self.work / "clusterstacks" / f"{cluster_stack}.yaml"
        doc = yaml.safe_load(path.read_text())
        doc["spec"]["versions"] = versions
        path.write_text(yaml.safe_dump(doc, sort_keys=False))


@dataclass
class SyncProcess:
    """``csops sync`` running in the background as a user would start it."""

    argv: list[str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    started: float = field(default=0.0)

    def start(self) -> SyncProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.started = time.monotonic()
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None


@dataclass
class HookEndpoint:
    """Where csops serves the runtime hooks, with a certificate from the plane's CA."""

    port: int
    cert: Path
    key: Path
    ca: bytes

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"


def hook_endpoint(plane: ControlPlane, directory: Path) -> HookEndpoint:
    cert, key = plane.credentials.issue_serving_cert("csops-hooks")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "tls.crt").write_bytes(cert)
    (directory / "tls.key").write_bytes(key)
    return HookEndpoint(
        free_port(), directory / "tls.crt", directory / "tls.key", plane.credentials.ca_pem
    )


def cluster_ca_secret(name: str, namespace: str, workload: ControlPlane) -> client.V1Secret:
    """``<cluster>-ca`` holding the workload plane's CA: the kubeconfig KCP writes from it is
    accepted by that plane (what a real control plane's certificates would give)."""
    creds = workload.credentials
    return client.V1Secret(
        metadata=client.V1ObjectMeta(
            name=f"{name}-ca",
            namespace=namespace,
            labels={"cluster.x-k8s.io/cluster-name": name},
        ),
        type="cluster.x-k8s.io/secret",
        data={
            "tls.crt": base64.b64encode(creds.ca_cert.read_bytes()).decode(),
            "tls.key": base64.b64encode(creds.ca_key.read_bytes()).decode(),
        },
    )


@pytest.fixture
def private_workload_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """A workload plane of this test's own (the session's is shared with the addon tests)."""
    plane = ControlPlane(
        tmp_path_factory.mktemp("workload-e2e"), name="workload-e2e", controller_manager=False
    )
    plane.start()
    yield plane
    plane.stop()
