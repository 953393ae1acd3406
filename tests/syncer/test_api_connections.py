"""The API connections csops keeps (:mod:`csops.syncer.apiconnections`) on a real API server
and a real loopback HTTP server: TLS names, skipped verification, tokens, refused ports, and
connections the server closed while they sat in the pool."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from csops.controlplane import ControlPlane
from csops.syncer import apiconnections
from csops.syncer.errors import ApiError, UnreachableError
from csops.syncer.kube import Kube

pytestmark = pytest.mark.integration


def _edited(
    source: Path, target: Path, cluster: dict[str, object], user: dict[str, object]
) -> Path:
    """``source`` with its (one) cluster and user entries updated."""
    document = yaml.safe_load(source.read_text())
    document["clusters"][0]["cluster"].update(cluster)
    document["users"][0]["user"].update(user)
    target.write_text(yaml.safe_dump(document))
    return target


def _namespaces(kubeconfig: Path) -> list[str]:
    kube = Kube.from_kubeconfig(kubeconfig)
    try:
        items = kube.list(kube.resource("v1", "Namespace")).items
    finally:
        kube.close()
    return [item["metadata"]["name"] for item in items]


def test_the_tls_server_name_is_the_name_verified(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    source = control_plane.kubeconfig_for("csops")
    named = _edited(source, tmp_path / "named", {"tls-server-name": "kubernetes.default"}, {})
    assert "default" in _namespaces(named)
    wrong = _edited(source, tmp_path / "wrong", {"tls-server-name": "elsewhere.example"}, {})
    with pytest.raises(UnreachableError, match=r"elsewhere\.example"):
        _namespaces(wrong)


def test_verification_can_be_skipped_without_a_ca(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    document = yaml.safe_load(control_plane.kubeconfig_for("csops").read_text())
    del document["clusters"][0]["cluster"]["certificate-authority-data"]
    document["clusters"][0]["cluster"]["insecure-skip-tls-verify"] = True
    path = tmp_path / "insecure"
    path.write_text(yaml.safe_dump(document))
    assert "default" in _namespaces(path)


def test_a_bearer_token_is_sent_and_a_wrong_one_refused(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    assert "default" in _namespaces(control_plane.kubeconfig_path)  # the admin token
    wrong = _edited(control_plane.kubeconfig_path, tmp_path / "wrong", {}, {"token": "nope"})
    with pytest.raises(ApiError) as refused:
        _namespaces(wrong)
    assert refused.value.status == 401
    assert "nope" not in str(refused.value)


def test_a_refused_port_is_unreachable(control_plane: ControlPlane, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nothing listens there
    server = f"https://127.0.0.1:{port}"
    path = _edited(control_plane.kubeconfig_for("csops"), tmp_path / "k", {"server": server}, {})
    with pytest.raises(UnreachableError, match="unreachable"):
        _namespaces(path)


class _ClosingHandler(http.server.BaseHTTPRequestHandler):
    """Answers ``{}`` over HTTP/1.1 and then closes, without saying so (no
    ``Connection: close``): the client pools a connection the server already closed."""

    protocol_version = "HTTP/1.1"
    peers: list[int]

    def do_GET(self) -> None:
        self.peers.append(self.client_address[1])
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def closing_server() -> Iterator[tuple[int, list[int]]]:
    peers: list[int] = []
    handler = type("Handler", (_ClosingHandler,), {"peers": peers})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], peers
    server.shutdown()
    server.server_close()


def _plain(port: int) -> apiconnections.Connections:
    settings = apiconnections.ServerSettings(
        "http", "127.0.0.1", port, "", None, None, lambda: {"Authorization": "Bearer t"}
    )
    return apiconnections.Connections(settings, "csops-test")


@pytest.mark.parametrize("looks_usable", [False, True])
def test_a_pooled_connection_the_server_closed_is_replaced(
    closing_server: tuple[int, list[int]], monkeypatch: pytest.MonkeyPatch, looks_usable: bool
) -> None:
    """Closed while idle: seen before reuse (readable at EOF) or, when the close arrives
    after that check (forced here), the request is sent once more on a new connection."""
    port, peers = closing_server
    if looks_usable:
        monkeypatch.setattr(apiconnections, "_usable", lambda connection: True)
    connections = _plain(port)
    try:
        answers = [
            connections.request("GET", f"/r{i}", body=None, headers={}, timeout=5) for i in range(3)
        ]
    finally:
        connections.close()
    assert [(a.status, a.data) for a in answers] == [(200, b"{}")] * 3
    assert len(set(peers)) == 3  # three connections, each answered once
