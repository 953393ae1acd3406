"""The HTTP endpoints of ``csops sync``: ``/metrics``, ``/healthz``, ``/readyz`` and the webhook.

The webhook ``/hook`` is served beside the others, or on a port of its own
(``--webhook-listen``) so that what the git provider can reach is the webhook and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable

from csops.syncer import webhook
from csops.syncer.httpserver import Exchange, HttpServer, Reply, Route
from csops.syncer.metrics import Metrics

HOOK_PATH = "/hook"


def hook_route(receiver: webhook.Receiver, metrics: Metrics, on_hook: Callable[[], None]) -> Route:
    """``POST /hook``: headers checked before the body is read, then signature and replay."""

    def hook(exchange: Exchange) -> Reply:
        admitted = receiver.admit(exchange.headers)
        if isinstance(admitted, webhook.Verdict):
            verdict = admitted
        else:
            verdict = receiver.receive(exchange.headers, exchange.read(admitted))
        metrics.webhooks.labels(verdict.result.value).inc()
        if verdict.accepted:
            on_hook()
        return Reply(verdict.status, f"{verdict.message}\n".encode())

    return hook


def status_routes(metrics: Metrics, ready: Callable[[], bool]) -> dict[tuple[str, str], Route]:
    """``/metrics``, ``/healthz`` and ``/readyz``."""

    def readyz(exchange: Exchange) -> Reply:
        ok = ready()
        return Reply(200 if ok else 503, b"ok\n" if ok else b"not ready\n")

    return {
        ("GET", "/metrics"): lambda _: Reply(
            200, metrics.exposition(), "text/plain; version=0.0.4"
        ),
        ("GET", "/healthz"): lambda _: Reply(200, b"ok\n"),
        ("GET", "/readyz"): readyz,
    }


class Endpoints:
    """The status endpoints, and the webhook when ``hook`` is given."""

    def __init__(
        self,
        address: tuple[str, int],
        metrics: Metrics,
        *,
        ready: Callable[[], bool],
        hook: Route | None = None,
    ) -> None:
        routes = status_routes(metrics, ready)
        if hook is not None:
            routes[("POST", HOOK_PATH)] = hook
        self.http = HttpServer(address, routes, serves=("/metrics, /healthz, /readyz", "--listen"))

    @property
    def port(self) -> int:
        """The port it listens on."""
        return self.http.port

    def start(self) -> None:
        """Serve in the background."""
        self.http.start()

    def stop(self) -> None:
        """Stop serving."""
        self.http.stop()
