"""Kubeconfig files for a loopback control plane (token or client-certificate users)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import yaml


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def kubeconfig_document(
    *,
    name: str,
    server: str,
    ca_pem: bytes,
    token: str | None = None,
    client_cert_pem: bytes | None = None,
    client_key_pem: bytes | None = None,
    user: str = "admin",
) -> dict[str, Any]:
    """A one-cluster, one-user, one-context kubeconfig as a mapping."""
    credentials: dict[str, str] = {}
    if token is not None:
        credentials["token"] = token
    if client_cert_pem is not None and client_key_pem is not None:
        credentials["client-certificate-data"] = _b64(client_cert_pem)
        credentials["client-key-data"] = _b64(client_key_pem)
    if not credentials:
        raise ValueError("a kubeconfig user needs a token or a client certificate and key")
    context = f"{user}@{name}"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": name,
                "cluster": {"server": server, "certificate-authority-data": _b64(ca_pem)},
            }
        ],
        "users": [{"name": user, "user": credentials}],
        "contexts": [{"name": context, "context": {"cluster": name, "user": user}}],
        "current-context": context,
        "preferences": {},
    }


def write_kubeconfig(path: Path, document: dict[str, Any]) -> Path:
    """Write ``document`` to ``path`` (mode 0600, atomically) and return ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.touch(mode=0o600, exist_ok=True)
    partial.chmod(0o600)
    partial.write_text(yaml.safe_dump(document, sort_keys=False))
    partial.replace(path)
    return path
