"""Webhook signatures, GitHub/Gitea style: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256>``.

Gitea also sends ``X-Gitea-Signature: <hex>`` (no prefix); both are accepted.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

MAX_BODY = 10 * 1024 * 1024


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, headers: Mapping[str, str]) -> bool:
    """True when a signature header matches (constant-time compare)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    github = lowered.get("x-hub-signature-256", "")
    if github.startswith("sha256=") and hmac.compare_digest(github[7:], expected):
        return True
    gitea = lowered.get("x-gitea-signature", "")
    return bool(gitea) and hmac.compare_digest(gitea, expected)
