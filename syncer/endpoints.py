"""The HTTP server: ``/metrics``, ``/healthz``, ``/readyz`` and the webhook ``/hook``."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from csops.syncer import webhook
from csops.syncer.errors import listen_failed
from csops.syncer.metrics import Metrics


class Endpoints:
    def __init__(
        self,
        address: tuple[str, int],
        metrics: Metrics,
        *,
        ready: Callable[[], bool],
        on_hook: Callable[[], None],
        secret: bytes | None,
    ) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return

            def _reply(self, code: int, body: bytes, ctype: str = "text/plain") -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path == "/metrics":
                    self._reply(200, metrics.exposition(), "text/plain; version=0.0.4")
                elif self.path == "/healthz":
                    self._reply(200, b"ok\n")
                elif self.path == "/readyz":
                    ok = ready()
                    self._reply(200 if ok else 503, b"ok\n" if ok else b"not ready\n")
                else:
                    self._reply(404, b"not found\n")

            def do_POST(self) -> None:
                if self.path != "/hook":
                    self._reply(404, b"not found\n")
                    return
                length = int(self.headers.get("Content-Length") or 0)
                if length > webhook.MAX_BODY:
                    metrics.webhooks.labels("too_large").inc()
                    self._reply(413, b"payload too large\n")
                    return
                body = self.rfile.read(length)
                if outer.secret is None:
                    metrics.webhooks.labels("disabled").inc()
                    self._reply(404, b"webhook disabled: no secret configured\n")
                    return
                if not webhook.verify(outer.secret, body, dict(self.headers.items())):
                    metrics.webhooks.labels("rejected").inc()
                    self._reply(401, b"bad signature\n")
                    return
                metrics.webhooks.labels("accepted").inc()
                on_hook()
                self._reply(202, b"accepted\n")

        self.secret = secret
        try:
            self.server = ThreadingHTTPServer(address, Handler)
        except OSError as exc:
            raise listen_failed("/metrics, /healthz, /readyz", "--listen", address, exc) from None
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
