"""The HTTP plumbing of ``csops sync``'s endpoints: routes in, a server that stands a crowd.

- a listen backlog of :data:`BACKLOG` (the kernel caps it at ``net.core.somaxconn``), so a
  burst of connections waits to be accepted instead of being reset;
- every connection has a socket timeout and every body a deadline (:data:`TIMEOUT`), so a slow
  or silent client holds a handler for seconds, not forever;
- at most :data:`MAX_HANDLERS` requests are handled at once; the next ones get ``503`` at once;
- nothing is logged per request.

A route gets an :class:`Exchange` (method, path, headers, a bounded body reader) and returns a
:class:`Reply`.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from csops.syncer.errors import listen_failed

BACKLOG = 1024
TIMEOUT = 10.0
MAX_HANDLERS = 64
_CHUNK = 64 * 1024
_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


@dataclass(frozen=True)
class Reply:
    """What a route answers."""

    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"


class BodyTimeout(Exception):
    """The client did not send the body it announced within the deadline."""


@dataclass
class Exchange:
    """One request as a route sees it."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    stream: io.BufferedIOBase
    timeout: float

    def read(self, length: int) -> bytes:
        """Exactly ``length`` body bytes, read in chunks within :attr:`timeout` in total;
        :class:`BodyTimeout` when the client is slower or closes early."""
        deadline = time.monotonic() + self.timeout
        parts: list[bytes] = []
        left = length
        while left > 0:
            if time.monotonic() > deadline:
                raise BodyTimeout(f"body not received within {self.timeout:g}s")
            try:
                chunk = self.stream.read1(min(left, _CHUNK))
            except TimeoutError as exc:
                raise BodyTimeout(f"body not received within {self.timeout:g}s") from exc
            if not chunk:
                raise BodyTimeout("connection closed before the body was complete")
            parts.append(chunk)
            left -= len(chunk)
        return b"".join(parts)


Route = Callable[[Exchange], Reply]


class _Server(ThreadingHTTPServer):
    request_queue_size = BACKLOG
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self.slots = threading.BoundedSemaphore(MAX_HANDLERS)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            _refuse(request)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def _refuse(request: socket.socket) -> None:
    try:
        request.settimeout(1.0)
        request.sendall(_BUSY)
    except OSError:
        pass


class HttpServer:
    """Serves ``routes`` (``(method, path)`` → route) on ``address`` in a background thread."""

    def __init__(
        self,
        address: tuple[str, int],
        routes: Mapping[tuple[str, str], Route],
        *,
        timeout: float = TIMEOUT,
        serves: tuple[str, str] = ("HTTP", "--listen"),
    ) -> None:
        """``serves``: what it serves and the flag that gave ``address``, for the one-line
        error when the address cannot be bound."""
        table = dict(routes)

        seconds = timeout

        class Handler(BaseHTTPRequestHandler):
            timeout = seconds  # the socket timeout of every read and write

            def log_message(self, format: str, *args: object) -> None:
                return

            def _serve(self) -> None:
                path = self.path.split("?", 1)[0]
                route = table.get((self.command, path))
                if route is None:
                    known = any(p == path for _, p in table)
                    status = HTTPStatus.METHOD_NOT_ALLOWED if known else HTTPStatus.NOT_FOUND
                    self._send(Reply(status, f"{status.phrase.lower()}\n".encode()))
                    return
                stream: Any = self.rfile
                exchange = Exchange(self.command, path, list(self.headers.items()), stream, timeout)
                try:
                    reply = route(exchange)
                except BodyTimeout as exc:
                    self.close_connection = True
                    reply = Reply(HTTPStatus.REQUEST_TIMEOUT, f"{exc}\n".encode())
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

        try:
            self.server = _Server(address, Handler)
        except OSError as exc:
            raise listen_failed(*serves, address, exc) from None
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        """The port it listens on (useful when asked for port 0)."""
        return int(self.server.server_address[1])

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread.is_alive():
            self.server.shutdown()
        self.server.server_close()
