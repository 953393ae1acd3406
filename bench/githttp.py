"""``git http-backend`` as CGI behind a small HTTP server on loopback.

:func:`run_backend` answers one request of git's smart HTTP protocol by running
``git http-backend`` (every repository below the root exported); :class:`GitHttpServer` serves
a directory of repositories over plain HTTP on a free 127.0.0.1 port, as Flux's
source-controller needs a ``GitRepository`` URL to be http(s) or ssh. The test suite's HTTPS
server with Basic auth answers through the same function.
"""

from __future__ import annotations

import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit


def run_backend(handler: BaseHTTPRequestHandler, root: Path) -> None:
    """Answer ``handler``'s request with ``git http-backend`` serving the repositories in
    ``root``."""
    parts = urlsplit(handler.path)
    length = int(handler.headers.get("Content-Length") or 0)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GIT_PROJECT_ROOT": str(root),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": parts.path,
        "QUERY_STRING": parts.query,
        "REQUEST_METHOD": handler.command,
        "CONTENT_TYPE": handler.headers.get("Content-Type", ""),
        "GIT_PROTOCOL": handler.headers.get("Git-Protocol", ""),
        "HTTP_CONTENT_ENCODING": handler.headers.get("Content-Encoding", ""),
        "REMOTE_USER": "git",
        "REMOTE_ADDR": "127.0.0.1",
    }
    done = subprocess.run(
        ["git", "http-backend"],
        input=handler.rfile.read(length) if length else b"",
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    head, _, body = done.stdout.partition(b"\r\n\r\n")
    status, headers = 200, []
    for line in head.decode().split("\r\n"):
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.split()[0])
        elif name:
            headers.append((name, value.strip()))
    handler.send_response(status)
    for name, value in headers:
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class GitHttpServer:
    """``with GitHttpServer(root) as s: s.url("set.git")``: the repositories below ``root``
    over plain HTTP on 127.0.0.1 (a free port), no authentication."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.served = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return

            def _serve(self) -> None:
                outer.served += 1
                run_backend(self, outer.root)

            do_GET = _serve
            do_POST = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, repo: str) -> str:
        """The clone URL of ``repo`` (a directory below the root)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/{repo}"

    def start(self) -> GitHttpServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def __enter__(self) -> GitHttpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
