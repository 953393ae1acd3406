"""Real private git servers for tests, on free loopback ports.

- :class:`GitHttpsServer`: ``git http-backend`` behind HTTPS and HTTP Basic auth, as a git
  host serves a private repository (401 without the right ``Authorization`` header);
- :class:`GitSshServer`: Debian's ``sshd`` (installed, or unpacked by ``hack/sshd.py``, which
  ``make test`` runs) with its own host key, accepting one client key; git runs
  ``git-upload-pack`` through it as it does on any SSH git host.

Both record what they saw, so a test can check that a secret went only where it belongs.
"""

from __future__ import annotations

import base64
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench.githttp import run_backend

REPO_ROOT = Path(__file__).resolve().parents[1]


class GitHttpsServer:
    """``with GitHttpsServer(root, "user", "token", cert, key) as s: s.url("stacks.git")``."""

    def __init__(self, root: Path, username: str, password: str, cert: Path, key: Path) -> None:
        self.root = root
        self.expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self.authorizations: list[str] = []
        self.served = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, repo: str) -> str:
        return f"https://127.0.0.1:{self._server.server_address[1]}/{repo}"

    def __enter__(self) -> GitHttpsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return

            def _serve(self) -> None:
                auth = self.headers.get("Authorization", "")
                outer.authorizations.append(auth)
                if auth != outer.expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                outer.served += 1
                run_backend(self, outer.root)

            do_GET = _serve
            do_POST = _serve

        return Handler


def sshd_binary() -> tuple[Path, dict[str, str]]:
    """Debian's sshd and the environment it runs in (its unpacked libraries, if any)."""
    installed = Path("/usr/sbin/sshd")
    if installed.is_file():
        return installed, {}
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "csops" / "sshd"
    found = sorted(base.glob("*/usr/sbin/sshd")) if base.is_dir() else []
    if not found:
        pytest.fail(f"no sshd: run `python3 {REPO_ROOT}/hack/sshd.py` (make test runs it)")
    binary = found[-1]
    root = binary.parents[2]
    libs = [str(p) for p in [*sorted(root.glob("usr/lib/*-linux-gnu")), root / "usr/lib"]]
    return binary, {"LD_LIBRARY_PATH": ":".join(libs)}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class GitSshServer:
    """sshd on a free loopback port that lets in the holder of one key, as the current user."""

    def __init__(self, directory: Path, authorized_key: str) -> None:
        self.directory = directory
        self.user = pwd.getpwuid(os.getuid()).pw_name
        directory.mkdir(parents=True, exist_ok=True)
        self.host_key = directory / "host_ed25519"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.host_key)], check=True
        )
        (directory / "authorized_keys").write_text(authorized_key.strip() + "\n")
        (directory / "authorized_keys").chmod(0o600)
        self.port = 0
        self.log = directory / "sshd.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def known_hosts(self) -> str:
        """The ``known_hosts`` line of this server's host key."""
        key = Path(f"{self.host_key}.pub").read_text().split()
        return f"[127.0.0.1]:{self.port} {key[0]} {key[1]}\n"

    def url(self, path: Path) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{path}"

    def _config(self, port: int) -> Path:
        config = self.directory / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {self.host_key}",
                    f"AuthorizedKeysFile {self.directory / 'authorized_keys'}",
                    "AuthenticationMethods publickey",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PermitRootLogin prohibit-password",
                    "StrictModes no",
                    "UsePAM no",
                    "PidFile none",
                    "LogLevel VERBOSE",
                    "",
                ]
            )
        )
        return config

    def __enter__(self) -> GitSshServer:
        binary, env = sshd_binary()
        for _ in range(5):  # a free port can be taken between the probe and sshd's bind
            port = _free_port()
            config = self._config(port)
            with self.log.open("wb") as log:
                process = subprocess.Popen(
                    [str(binary), "-D", "-e", "-f", str(config)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, **env},
                )
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and process.poll() is None:
                if b"Server listening" in self.log.read_bytes():
                    self.port, self._process = port, process
                    return self
                time.sleep(0.05)
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(10)
        pytest.fail(f"sshd did not start:\n{self.log.read_text()}")

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)


def client_key(directory: Path) -> tuple[Path, str]:
    """A fresh ed25519 client key: its private key file and its public line."""
    directory.mkdir(parents=True, exist_ok=True)
    key = directory / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return key, Path(f"{key}.pub").read_text()


def bare_copy(source: Path, target: Path) -> Path:
    """A bare clone of ``source`` at ``target`` (what a git host serves)."""
    if target.exists():
        shutil.rmtree(target)
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(source), str(target)], check=True, capture_output=True
    )
    return target
