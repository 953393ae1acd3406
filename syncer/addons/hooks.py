"""CAPI runtime extension: ``AfterControlPlaneInitialized`` and ``BeforeClusterUpgrade``.

HTTPS, CAPI's JSON wire format (``hooks.runtime.cluster.x-k8s.io/v1alpha1``):
``POST …/discovery`` lists the handlers; ``POST …/<hook lowercased>/<handler>`` answers a hook.
``AfterControlPlaneInitialized`` marks the ClusterAddon so the first install starts at once.
``BeforeClusterUpgrade`` holds the upgrade (``retryAfterSeconds``) until the target class's
addons are applied — per-upgrade state keyed by target class, bounded by a timeout
(:mod:`syncer.addons.gate`). :func:`extension_config` writes the ``ExtensionConfig`` manifest.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from csops.syncer import logs
from csops.syncer.addons import clusteraddon, gate
from csops.syncer.addons.cluster import view
from csops.syncer.addons.releases import (
    AFTER_CONTROL_PLANE_INITIALIZED,
    BEFORE_CLUSTER_UPGRADE,
    ReleaseCatalog,
)
from csops.syncer.clock import SYSTEM, Clock
from csops.syncer.errors import ApiError, ServeError, listen_failed
from csops.syncer.kube import Kube
from csops.syncer.objects import Resource

HOOKS_API = "hooks.runtime.cluster.x-k8s.io/v1alpha1"
PREFIX = f"/{HOOKS_API}/"
DISCOVERY = "discovery"
HANDLER_NAMES = {
    AFTER_CONTROL_PLANE_INITIALIZED: "csops-after-control-plane-initialized",
    BEFORE_CLUSTER_UPGRADE: "csops-before-cluster-upgrade",
}
HOOK_TIMEOUT_SECONDS = 10
MAX_BODY = 4 * 1024 * 1024


def response(kind: str, status: str = "Success", message: str = "", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"apiVersion": HOOKS_API, "kind": kind, "status": status}
    if message:
        body["message"] = message
    body.update(extra)
    return body


def discovery() -> dict[str, Any]:
    return response(
        "DiscoveryResponse",
        handlers=[
            {
                "name": name,
                "requestHook": {"apiVersion": HOOKS_API, "hook": hook},
                "timeoutSeconds": HOOK_TIMEOUT_SECONDS,
                "failurePolicy": "Fail",
            }
            for hook, name in HANDLER_NAMES.items()
        ],
    )


def extension_config(
    name: str, url: str, ca_bundle: bytes, *, namespace_selector: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The ``ExtensionConfig`` that registers the hook server with CAPI."""
    return {
        "apiVersion": "runtime.cluster.x-k8s.io/v1alpha1",
        "kind": "ExtensionConfig",
        "metadata": {"name": name},
        "spec": {
            "clientConfig": {
                "url": url,
                "caBundle": base64.b64encode(ca_bundle).decode("ascii"),
            },
            "namespaceSelector": namespace_selector or {},
        },
    }


class HookHandler:
    """Answers hook requests (no HTTP here); writes with field manager ``csops-hooks``."""

    def __init__(
        self,
        kube: Kube,
        releases_dir: Path | None,
        *,
        upgrade_timeout: float = 900.0,
        retry_after: int = gate.RETRY_AFTER,
        clock: Clock = SYSTEM,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self.kube = kube
        self.catalog = ReleaseCatalog(releases_dir) if releases_dir is not None else None
        self.upgrade_timeout = upgrade_timeout
        self.retry_after = retry_after
        self.clock = clock
        self.on_change = on_change or (lambda key: None)
        self.log = logs.get()

    def set_releases(self, releases_dir: Path) -> None:
        """Answer from the release bundles of ``releases_dir`` from now on (one assignment)."""
        if self.catalog is None or self.catalog.directory != releases_dir:
            self.catalog = ReleaseCatalog(releases_dir)

    def handle(self, path: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """``(http status, response body)`` for a POST to ``path``."""
        if not path.startswith(PREFIX):
            return 404, {"message": f"unknown path {path}"}
        rest = path[len(PREFIX) :].strip("/")
        if rest == DISCOVERY:
            return 200, discovery()
        hook_part, _, handler = rest.partition("/")
        for hook, name in HANDLER_NAMES.items():
            if hook_part == hook.lower() and handler == name:
                break
        else:
            return 404, {"message": f"no handler {rest!r}"}
        kind = f"{hook}Response"
        cluster = request.get("cluster")
        if not isinstance(cluster, dict) or not (cluster.get("metadata") or {}).get("name"):
            return 200, response(kind, "Failure", "the request carries no cluster")
        try:
            if hook == AFTER_CONTROL_PLANE_INITIALIZED:
                return 200, self._initialized(cluster, kind)
            return 200, self._before_upgrade(cluster, request, kind)
        except ApiError as exc:
            self.log.error("hook failed", extra={"hook": hook, "error": str(exc)})
            return 200, response(kind, "Failure", f"cannot read or write the ClusterAddon: {exc}")

    def _annotate(
        self, cluster: dict[str, Any], addon: dict[str, Any] | None, **values: str
    ) -> None:
        """Apply our annotations (all of them: apply drops what a manager leaves out)."""
        current = ((addon or {}).get("metadata") or {}).get("annotations") or {}
        annotations = {
            k: current[k]
            for k in (gate.INITIALIZED_ANNOTATION, gate.UPGRADE_ANNOTATION)
            if k in current
        }
        annotations.update(values)
        body = clusteraddon.skeleton(view(cluster))
        body["metadata"]["annotations"] = annotations
        self.kube.apply(self._resource(), body)

    def _addon(self, cluster: dict[str, Any]) -> dict[str, Any] | None:
        c = view(cluster)
        return self.kube.get_or_none(self._resource(), c.namespace, c.addon_name)

    def _resource(self) -> Resource:
        return self.kube.resource(clusteraddon.API_VERSION, clusteraddon.KIND)

    def _initialized(self, cluster: dict[str, Any], kind: str) -> dict[str, Any]:
        c = view(cluster)
        catalog = self.catalog
        if catalog is None:  # nothing synced yet; the controller reads the Cluster's status
            return response(kind, message="no revision synced yet")
        if not catalog.has_class(c.class_name):
            return response(kind, message=f"class {c.class_name!r} is not managed by csops")
        addon = self._addon(cluster)
        self._annotate(cluster, addon, **{gate.INITIALIZED_ANNOTATION: "true"})
        self.on_change(c.key)
        return response(kind, message=f"addons of {c.class_name} will be applied")

    def _before_upgrade(
        self, cluster: dict[str, Any], request: dict[str, Any], kind: str
    ) -> dict[str, Any]:
        c = view(cluster)
        catalog = self.catalog
        if catalog is None:
            return response(
                kind,
                message="no revision synced yet; asking CAPI to retry",
                retryAfterSeconds=self.retry_after,
            )
        if not catalog.has_class(c.class_name):
            return response(kind, message=f"class {c.class_name!r} is not managed by csops")
        to_version = str(request.get("toKubernetesVersion") or c.version)
        addon = self._addon(cluster)
        previous = gate.state_of(addon)
        state = gate.begin(previous, c.class_name, to_version, self.clock.time())
        if state != previous:
            self._annotate(cluster, addon, **{gate.UPGRADE_ANNOTATION: state.encode()})
            self.log.info("upgrade gate opened", extra={"cluster": c.key, "target": state.target})
        decision = gate.decide(
            state, addon, self.clock.time(), self.upgrade_timeout, self.retry_after
        )
        self.on_change(c.key)
        if decision.proceed:
            return response(kind, message=decision.message)
        return response(kind, message=decision.message, retryAfterSeconds=decision.retry_after)


class HookServer:
    """Serves a :class:`HookHandler` over HTTPS in a background thread."""

    def __init__(
        self, handler: HookHandler, cert: Path, key: Path, host: str = "0.0.0.0", port: int = 9442
    ) -> None:
        self.handler = handler
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(str(cert), str(key))
        except (ssl.SSLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc.strerror or str(exc)
            raise ServeError(
                f"cannot use the hook certificate {cert} with key {key} (--hook-cert, "
                f"--hook-key): {reason}; give a PEM certificate and its unencrypted PEM key"
            ) from None
        try:
            self._server = ThreadingHTTPServer((host, port), _request_handler(handler))
        except OSError as exc:
            raise listen_failed(
                "the CAPI runtime hooks", "--hook-listen", (host, port), exc
            ) from None
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def ready(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> HookServer:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _request_handler(hooks: HookHandler) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._send(413, {"message": "request too large"})
                return
            try:
                request = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                self._send(400, {"message": "the body is not JSON"})
                return
            if not isinstance(request, dict):
                self._send(400, {"message": "the body is not a JSON object"})
                return
            status, body = hooks.handle(self.path.split("?", 1)[0], request)
            self._send(status, body)

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler
