"""Keep-alive HTTP/1.1 connections to one API server, pooled between threads.

The Kubernetes client's transport (urllib3 behind a generated ``ApiClient``) spends about
1.2 ms of CPU on each request it sends: the body is walked for serialisation, the URL parsed
and normalised, headers copied through several layers, and the body sent in a second TLS
record. A sync of 1,000 objects makes 1,000 such requests while the API server and etcd share
the same cores, so that CPU is wall time. This pool speaks HTTP/1.1 through the standard
library directly (one write per request, one parse of the answer): about half the CPU.

It only sends requests and reads whole answers; streams (watches) stay on the client's
transport. TLS settings, credentials and their refresh come from the client's configuration
(:func:`settings_from`), so every kubeconfig the client loads works the same here.
"""

from __future__ import annotations

import datetime
import http.client
import json
import select
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

MAX_IDLE = 32
"""Idle connections kept for reuse; more threads than this still work, they reconnect."""


_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
"""What sending on a connection the server closed while it was idle raises."""


class ConnectionFailed(OSError):
    """The request could not be sent or its answer not read (refused, reset, TLS, timeout)."""


@dataclass(frozen=True)
class Answer:
    """A whole HTTP answer."""

    status: int
    reason: str
    data: bytes


@dataclass(frozen=True)
class ServerSettings:
    """Where the API server is and how to reach it."""

    scheme: str
    host: str
    port: int
    base_path: str
    tls: Callable[[], ssl.SSLContext] | None
    """Builds the TLS context (certificates are read when the first connection opens)."""
    server_hostname: str | None
    credentials: Callable[[], dict[str, str]]
    """The authentication headers, asked for on every request (tokens may be refreshed)."""


def settings_from(configuration: Any) -> ServerSettings | None:
    """The settings of a Kubernetes client ``Configuration`` (``None``: it goes through a
    proxy, which only the client's own transport speaks)."""
    if configuration.proxy:
        return None
    parts = urlsplit(configuration.host)
    scheme = parts.scheme or "https"

    def credentials() -> dict[str, str]:
        headers = {}
        for setting in configuration.auth_settings().values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[str(setting["key"])] = str(setting["value"])
        return headers

    return ServerSettings(
        scheme,
        parts.hostname or "localhost",
        parts.port or (443 if scheme == "https" else 80),
        parts.path.rstrip("/"),
        (lambda: _tls_context(configuration)) if scheme == "https" else None,
        configuration.tls_server_name or None,
        credentials,
    )


def _tls_context(configuration: Any) -> ssl.SSLContext:
    context = ssl.create_default_context(
        cafile=configuration.ssl_ca_cert or None, cadata=configuration.ca_cert_data or None
    )
    if not configuration.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif configuration.assert_hostname is False:
        context.check_hostname = False
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, configuration.key_file or None)
    return context


class _HTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection whose TLS server name may differ from the host it dials."""

    def __init__(
        self, settings: ServerSettings, context: ssl.SSLContext, timeout: float | None
    ) -> None:
        super().__init__(settings.host, settings.port, timeout=timeout, context=context)
        self._server_hostname = settings.server_hostname or settings.host
        self._tls = context

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._tls.wrap_socket(self.sock, server_hostname=self._server_hostname)


class Connections:
    """Sends requests over pooled keep-alive connections; thread-safe."""

    def __init__(self, settings: ServerSettings, user_agent: str) -> None:
        self.settings = settings
        self.user_agent = user_agent
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._closed = False
        self._context: ssl.SSLContext | None = None

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None,
        headers: dict[str, str],
        timeout: float | None,
    ) -> Answer:
        """Send one request and read its whole answer.

        A pooled connection the server closed while it sat idle is replaced once; any other
        failure is a :class:`ConnectionFailed`.
        """
        all_headers = {"User-Agent": self.user_agent, **headers, **self.settings.credentials()}
        target = self.settings.base_path + path
        for attempt in range(2):
            connection, reused = (
                self._take(timeout) if attempt == 0 else (self._connect(timeout), False)
            )
            try:
                answer = self._exchange(connection, method, target, body, all_headers)
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                if reused and isinstance(exc, _STALE):
                    continue
                raise ConnectionFailed(str(exc) or type(exc).__name__) from exc
            self._give(connection)
            return answer
        raise AssertionError("the second attempt returns or raises")

    @staticmethod
    def _exchange(
        connection: http.client.HTTPConnection,
        method: str,
        target: str,
        body: bytes | None,
        headers: dict[str, str],
    ) -> Answer:
        connection.request(method, target, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        if response.will_close:
            connection.close()
        return Answer(response.status, response.reason, data)

    def _take(self, timeout: float | None) -> tuple[http.client.HTTPConnection, bool]:
        """An idle connection still open (``True``), else a new one (``False``)."""
        while True:
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                return self._connect(timeout), False
            if _usable(connection):
                if connection.sock is not None:
                    connection.sock.settimeout(timeout)
                return connection, True
            connection.close()

    def _connect(self, timeout: float | None) -> http.client.HTTPConnection:
        if self.settings.tls is not None:
            return _HTTPSConnection(self.settings, self._tls_context(), timeout)
        return http.client.HTTPConnection(self.settings.host, self.settings.port, timeout=timeout)

    def _tls_context(self) -> ssl.SSLContext:
        """The TLS context, built once; unreadable or invalid certificates fail the request."""
        assert self.settings.tls is not None
        with self._lock:
            if self._context is None:
                try:
                    self._context = self.settings.tls()
                except (OSError, ValueError) as exc:
                    raise ConnectionFailed(f"TLS set-up failed: {exc}") from exc
            return self._context

    def _give(self, connection: http.client.HTTPConnection) -> None:
        if connection.sock is None:
            return  # the server said it closes
        with self._lock:
            if not self._closed and len(self._idle) < MAX_IDLE:
                self._idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        """Close every idle connection; connections in use close when their request ends."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


def _usable(connection: http.client.HTTPConnection) -> bool:
    """An idle connection is usable while nothing arrived on it: readable means the server
    closed it (or broke the protocol)."""
    sock = connection.sock
    if sock is None:
        return False
    poller = select.poll()
    try:
        poller.register(sock, select.POLLIN)
        return not poller.poll(0)
    except (OSError, ValueError):
        return False


def encode(body: Any) -> bytes:
    """A request body as JSON; dates (YAML timestamps) as ISO 8601 text."""
    return json.dumps(body, default=_iso).encode()


def _iso(value: object) -> str:
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    raise TypeError(f"cannot send a {type(value).__name__} in a request body")
