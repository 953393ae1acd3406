"""HTTPS access to a kube-apiserver with the stdlib: health probes and audit markers."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass


@dataclass(frozen=True)
class Endpoint:
    """A kube-apiserver URL with the CA that signs its certificate and a bearer token."""

    url: str
    ca_pem: bytes
    token: str

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.ca_pem.decode("ascii"))

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        """GET ``path``; returns (status, body). Connection errors give status 0."""
        request = urllib.request.Request(
            self.url + path, headers={"Authorization": f"Bearer {self.token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=self._context()) as resp:
                return int(resp.status), bytes(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except (urllib.error.URLError, OSError, ssl.SSLError) as exc:
            return 0, str(exc).encode()

    def ready(self) -> bool:
        """True when ``/readyz`` answers 200."""
        status, _ = self.get("/readyz", timeout=2.0)
        return status == 200
