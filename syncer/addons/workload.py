"""Reaching a workload cluster: its ``<cluster>-kubeconfig`` Secret becomes a :class:`Kube`.

One client per cluster (isolated: one cluster's credentials or outage never touch another's),
rebuilt when the Secret changes. A cluster is usable once its API server answers discovery.
"""

from __future__ import annotations

import base64
import binascii
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from csops.syncer.addons.cluster import ClusterView
from csops.syncer.addons.errors import WorkloadUnreachableError
from csops.syncer.errors import ApiError
from csops.syncer.kube import Kube

KUBECONFIG_KEY = "value"


@dataclass
class _Entry:
    version: str
    kube: Kube


class WorkloadClients:
    """Workload-cluster clients keyed by Cluster, built from the management plane's Secrets."""

    def __init__(self, management: Kube) -> None:
        self.management = management
        self._clients: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def client(self, cluster: ClusterView) -> Kube:
        """A client whose API server answered; raises :class:`WorkloadUnreachableError`."""
        secret_name = cluster.kubeconfig_secret
        try:
            secret = self.management.get_or_none(
                self.management.resource("v1", "Secret"), cluster.namespace, secret_name
            )
        except ApiError as exc:
            raise WorkloadUnreachableError(
                f"cannot read Secret {cluster.namespace}/{secret_name}: {exc}"
            ) from exc
        if secret is None:
            raise WorkloadUnreachableError(
                f"Secret {cluster.namespace}/{secret_name} with the workload kubeconfig does not "
                "exist yet",
                reason="KubeconfigMissing",
            )
        encoded = (secret.get("data") or {}).get(KUBECONFIG_KEY)
        if not encoded:
            raise WorkloadUnreachableError(
                f"Secret {cluster.namespace}/{secret_name} has no key {KUBECONFIG_KEY!r}",
                reason="KubeconfigMissing",
            )
        version = str((secret.get("metadata") or {}).get("resourceVersion", ""))
        try:
            kubeconfig = base64.b64decode(encoded, validate=True)
        except (binascii.Error, TypeError) as exc:
            raise WorkloadUnreachableError(
                f"Secret {cluster.namespace}/{secret_name}: key {KUBECONFIG_KEY!r} is not base64",
                reason="KubeconfigInvalid",
            ) from exc
        kube = self._cached(cluster.key, version, kubeconfig, cluster)
        try:
            kube.forget("v1")
            kube.resource("v1", "Namespace")  # discovery answers only when the API is serving
        except ApiError as exc:
            raise WorkloadUnreachableError(
                f"the API server of workload cluster {cluster.key} does not answer: {exc}"
            ) from exc
        return kube

    def _cached(self, key: str, version: str, kubeconfig: bytes, cluster: ClusterView) -> Kube:
        with self._lock:
            entry = self._clients.get(key)
            if entry is not None and entry.version == version:
                return entry.kube
        kube = _from_bytes(kubeconfig, cluster)
        with self._lock:
            old = self._clients.pop(key, None)
            self._clients[key] = _Entry(version, kube)
        if old is not None:
            old.kube.close()
        return kube

    def forget(self, key: str) -> None:
        with self._lock:
            entry = self._clients.pop(key, None)
        if entry is not None:
            entry.kube.close()

    def close(self) -> None:
        with self._lock:
            entries = list(self._clients.values())
            self._clients.clear()
        for entry in entries:
            entry.kube.close()


def _from_bytes(kubeconfig: bytes, cluster: ClusterView) -> Kube:
    """Load a kubeconfig document through :meth:`Kube.from_kubeconfig` (private temp file)."""
    fd, name = tempfile.mkstemp(prefix="csops-workload-", suffix=".kubeconfig")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(kubeconfig)
        return Kube.from_kubeconfig(path)
    except ApiError as exc:
        raise WorkloadUnreachableError(
            f"Secret {cluster.namespace}/{cluster.kubeconfig_secret} holds no usable kubeconfig: "
            f"{exc}",
            reason="KubeconfigInvalid",
        ) from exc
    finally:
        path.unlink(missing_ok=True)
