"""Webhook deliveries: is the request well-formed, who signed it, was it seen before (pure).

A delivery only wakes the sync loop early (the loop fetches the source itself), so what this
module guards is the controller's memory and its attention, never the desired state:

- **size**: ``Content-Length`` must be present, a plain decimal and at most ``max_body``; the
  body is read only after that and after a signature header was found (:meth:`Receiver.admit`);
- **signature**, in the schemes git providers use (header: what it carries; delivery id):

  - GitHub, Gitea, Forgejo: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>``;
    ``X-GitHub-Delivery``;
  - Gitea: ``X-Gitea-Signature: <hex HMAC-SHA256 of the body>``; ``X-Gitea-Delivery``;
  - GitLab: ``X-Gitlab-Token: <the secret itself>`` (GitLab signs nothing);
    ``X-Gitlab-Event-UUID``;
  - Standard Webhooks, the generic scheme any sender that computes an HMAC can use:
    ``webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`` with
    ``webhook-id`` and ``webhook-timestamp``, so the id and the time are signed too;

- **replays**: a delivery id, or a body signature, seen within ``memory`` seconds is refused,
  and a signed timestamp further than ``tolerance`` seconds from now is refused. GitHub, Gitea
  and GitLab sign neither their delivery id nor a time, so for them a replay is recognised by
  its id or its identical body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from http import HTTPStatus

from csops.syncer.clock import SYSTEM, Clock

MAX_BODY = 10 * 1024 * 1024
"""Largest body read (bytes); ``csops sync --webhook-max-body`` changes it."""
TOLERANCE = 300.0
"""How far a signed timestamp may be from now (seconds)."""
MEMORY = 24 * 3600.0
"""How long delivery ids and body signatures are remembered (seconds)."""
CAPACITY = 10_000
"""How many delivery ids and body signatures are remembered at most."""
STANDARD_SECRET_PREFIX = b"whsec_"

_DECIMAL = re.compile(r"[0-9]{1,15}")


class Scheme(StrEnum):
    """How a delivery is signed."""

    GITHUB = "github"
    GITEA = "gitea"
    GITLAB = "gitlab"
    STANDARD = "standard"


class Result(StrEnum):
    """What became of a request (the ``result`` label of ``csops_webhook_requests_total``)."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    """No valid signature."""
    REPLAYED = "replayed"
    """A delivery id or body seen before."""
    STALE = "stale"
    """A signed timestamp outside the tolerance."""
    MALFORMED = "malformed"
    """A missing, repeated or non-decimal ``Content-Length``, or a chunked body."""
    TOO_LARGE = "too_large"
    DISABLED = "disabled"
    """No secret is configured."""


@dataclass(frozen=True)
class Verdict:
    """The answer to one request: HTTP status, metrics label and a one-line reason."""

    status: int
    result: Result
    message: str

    @property
    def accepted(self) -> bool:
        """Whether the delivery wakes the sync loop."""
        return self.result == Result.ACCEPTED


_HEADERS = {
    Scheme.STANDARD: "webhook-signature",
    Scheme.GITHUB: "x-hub-signature-256",
    Scheme.GITEA: "x-gitea-signature",
    Scheme.GITLAB: "x-gitlab-token",
}
_DELIVERY = {
    Scheme.STANDARD: ("webhook-id",),
    Scheme.GITHUB: ("x-github-delivery",),
    Scheme.GITEA: ("x-gitea-delivery", "x-github-delivery"),
    Scheme.GITLAB: ("x-gitlab-event-uuid", "idempotency-key"),
}


class Headers:
    """Request headers by lower-cased name, every value kept (a repeated header is visible)."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._values: dict[str, list[str]] = {}
        for name, value in pairs:
            self._values.setdefault(name.lower(), []).append(value.strip())

    def all(self, name: str) -> list[str]:
        """Every value of ``name``."""
        return self._values.get(name.lower(), [])

    def get(self, name: str) -> str:
        """The first value of ``name`` ("" when absent)."""
        values = self.all(name)
        return values[0] if values else ""


def sign(secret: bytes, body: bytes) -> str:
    """GitHub's ``X-Hub-Signature-256`` value for ``body``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def standard_key(secret: bytes) -> bytes:
    """The HMAC key of the Standard Webhooks scheme: a ``whsec_<base64>`` secret is decoded,
    any other secret is used as it is."""
    if secret.startswith(STANDARD_SECRET_PREFIX):
        try:
            return base64.b64decode(secret[len(STANDARD_SECRET_PREFIX) :], validate=True)
        except binascii.Error:
            return secret
    return secret


def sign_standard(secret: bytes, delivery: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for a delivery (Standard Webhooks, ``v1``)."""
    message = f"{delivery}.{timestamp}.".encode() + body
    digest = hmac.new(standard_key(secret), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _hex_hmac(secret: bytes, body: bytes) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def _valid(scheme: Scheme, secret: bytes, headers: Headers, body: bytes) -> bool:
    """Whether the header of ``scheme`` carries a valid signature (constant-time compares)."""
    value = headers.get(_HEADERS[scheme])
    if not value:
        return False
    if scheme == Scheme.GITHUB:
        return value.startswith("sha256=") and hmac.compare_digest(
            value[7:].encode(), _hex_hmac(secret, body).encode()
        )
    if scheme == Scheme.GITEA:
        return hmac.compare_digest(value.encode(), _hex_hmac(secret, body).encode())
    if scheme == Scheme.GITLAB:
        return hmac.compare_digest(value.encode(), secret)
    delivery, timestamp = headers.get("webhook-id"), headers.get("webhook-timestamp")
    if not delivery or not _DECIMAL.fullmatch(timestamp):
        return False
    expected = sign_standard(secret, delivery, int(timestamp), body).encode()
    return any(hmac.compare_digest(candidate.encode(), expected) for candidate in value.split())


def verify(secret: bytes, body: bytes, headers: Iterable[tuple[str, str]]) -> Scheme | None:
    """The scheme whose signature is valid for ``body``, or ``None`` (no replay checks)."""
    seen = Headers(headers)
    return next((s for s in Scheme if _valid(s, secret, seen, body)), None)


class ReplayGuard:
    """Remembers delivery ids and body signatures for ``memory`` seconds, ``capacity`` at most
    (the oldest are forgotten first). Thread-safe."""

    def __init__(self, *, clock: Clock = SYSTEM, memory: float = MEMORY, capacity: int = CAPACITY):
        self.clock = clock
        self.memory = memory
        self.capacity = capacity
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, keys: Iterable[str]) -> bool:
        """Record ``keys``; False when any of them was recorded within the memory."""
        now = self.clock.monotonic()
        wanted = list(keys)
        with self._lock:
            while self._seen and next(iter(self._seen.values())) <= now - self.memory:
                self._seen.popitem(last=False)
            if any(key in self._seen for key in wanted):
                return False
            for key in wanted:
                self._seen[key] = now
                self._seen.move_to_end(key)
            while len(self._seen) > self.capacity:
                self._seen.popitem(last=False)
        return True


class Receiver:
    """Decides about webhook requests: :meth:`admit` on the headers, :meth:`receive` on the body."""

    def __init__(
        self,
        secret: bytes | None,
        *,
        clock: Clock = SYSTEM,
        max_body: int = MAX_BODY,
        tolerance: float = TOLERANCE,
        replays: ReplayGuard | None = None,
    ) -> None:
        self.secret = secret
        self.clock = clock
        self.max_body = max_body
        self.tolerance = tolerance
        self.replays = replays or ReplayGuard(clock=clock)

    def admit(self, pairs: Iterable[tuple[str, str]]) -> int | Verdict:
        """How many body bytes to read, or the verdict that refuses the request unread."""
        headers = Headers(pairs)
        if self.secret is None:
            return Verdict(HTTPStatus.NOT_FOUND, Result.DISABLED, "webhook disabled: no secret")
        if headers.all("transfer-encoding"):
            return Verdict(
                HTTPStatus.LENGTH_REQUIRED, Result.MALFORMED, "send the body with Content-Length"
            )
        lengths = headers.all("content-length")
        if not lengths:
            return Verdict(HTTPStatus.LENGTH_REQUIRED, Result.MALFORMED, "Content-Length missing")
        if len(set(lengths)) != 1 or not _DECIMAL.fullmatch(lengths[0]):
            return Verdict(HTTPStatus.BAD_REQUEST, Result.MALFORMED, "bad Content-Length")
        length = int(lengths[0])
        if length > self.max_body:
            return Verdict(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                Result.TOO_LARGE,
                f"payload larger than {self.max_body} bytes",
            )
        if not any(headers.get(name) for name in _HEADERS.values()):
            return Verdict(HTTPStatus.UNAUTHORIZED, Result.REJECTED, "no signature header")
        return length

    def receive(self, pairs: Iterable[tuple[str, str]], body: bytes) -> Verdict:
        """The verdict on a delivery whose body was read in full."""
        if self.secret is None:
            return Verdict(HTTPStatus.NOT_FOUND, Result.DISABLED, "webhook disabled: no secret")
        headers = Headers(pairs)
        scheme = next((s for s in Scheme if _valid(s, self.secret, headers, body)), None)
        if scheme is None:
            return Verdict(HTTPStatus.UNAUTHORIZED, Result.REJECTED, "bad signature")
        if scheme == Scheme.STANDARD:
            sent = int(headers.get("webhook-timestamp"))
            if abs(self.clock.time() - sent) > self.tolerance:
                return Verdict(
                    HTTPStatus.UNAUTHORIZED,
                    Result.STALE,
                    f"timestamp more than {self.tolerance:g}s from now",
                )
        if not self.replays.first_time(self._keys(scheme, headers, body)):
            return Verdict(HTTPStatus.CONFLICT, Result.REPLAYED, "delivery seen before")
        return Verdict(HTTPStatus.ACCEPTED, Result.ACCEPTED, "accepted")

    def _keys(self, scheme: Scheme, headers: Headers, body: bytes) -> list[str]:
        """What identifies a delivery: its id, and (unless the scheme signs the id with a
        time) its body's signature."""
        assert self.secret is not None
        delivery = next((headers.get(n) for n in _DELIVERY[scheme] if headers.get(n)), "")
        keys = [f"{scheme}:id:{delivery}"] if delivery else []
        if scheme != Scheme.STANDARD:
            keys.append(f"body:{_hex_hmac(self.secret, body)}")
        return keys
