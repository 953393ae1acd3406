"""Credentials for a private git source: from files, the environment, or a Kubernetes Secret.

Read again before every fetch, so a rotated token or a re-mounted Secret is picked up without
a restart. A Secret uses the keys of Flux's GitRepository secrets (``username``,
``password``, ``bearerToken``, ``identity``, ``known_hosts``, ``ca.crt``); a value given on
the command line (or its file) wins over the Secret's. Errors name the flag, file or Secret
and key, never a value.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from csops.gitcredentials import GitCredentials
from csops.syncer.errors import ApiError, FetchError
from csops.syncer.kube import Kube
from csops.syncer.objects import Resource

SECRET = Resource("", "v1", "Secret", "secrets", True)
SECRET_KEYS = {
    "username": "username",
    "password": "password",
    "bearer_token": "bearerToken",
    "ssh_key": "identity",
    "known_hosts": "known_hosts",
    "ca_cert": "ca.crt",
}


@dataclass(frozen=True)
class GitAuth:
    """Where a git source's credentials come from (every part optional)."""

    username: str = ""
    password: str = field(default="", repr=False)
    """A password or token given as a value (``$CSOPS_GIT_TOKEN``)."""
    password_file: Path | None = None
    bearer_token_file: Path | None = None
    ssh_key_file: Path | None = None
    known_hosts_file: Path | None = None
    ca_file: Path | None = None
    secret: str | None = None
    """``[NAMESPACE/]NAME`` of a Secret holding any of :data:`SECRET_KEYS`."""

    @property
    def empty(self) -> bool:
        return self == GitAuth()

    def secret_ref(self, default_namespace: str) -> tuple[str, str] | None:
        """(namespace, name) of the Secret, the namespace defaulting to ``default_namespace``."""
        if not self.secret:
            return None
        namespace, _, name = self.secret.rpartition("/")
        return namespace or default_namespace, name


def _read(path: Path | None, flag: str) -> bytes:
    if path is None:
        return b""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise FetchError(f"git credentials: cannot read {flag} {path}: {exc.strerror}") from exc


def _text(data: bytes, what: str) -> str:
    try:
        return data.decode().strip()
    except UnicodeDecodeError as exc:
        raise FetchError(f"git credentials: {what} is not UTF-8 text") from exc


def _from_secret(kube: Kube, namespace: str, name: str) -> dict[str, bytes]:
    """The Secret's values for the fields of :class:`GitCredentials`, by field name."""
    where = f"Secret {namespace}/{name} (--git-secret)"
    try:
        live = kube.get_or_none(SECRET, namespace, name)
    except ApiError as exc:
        raise FetchError(f"git credentials: cannot read {where}: {exc}") from exc
    if live is None:
        raise FetchError(f"git credentials: {where} does not exist")
    data = live.get("data") or {}
    found: dict[str, bytes] = {}
    for attribute, key in SECRET_KEYS.items():
        if key in data:
            try:
                found[attribute] = base64.b64decode(data[key], validate=True)
            except (binascii.Error, ValueError) as exc:
                raise FetchError(f"git credentials: {where}: key {key} is not base64") from exc
    if not found:
        keys = ", ".join(SECRET_KEYS.values())
        raise FetchError(f"git credentials: {where} has none of the keys {keys}")
    return found


def resolve(auth: GitAuth, kube: Kube | None, default_namespace: str) -> GitCredentials:
    """The credentials to use now (flags and files over the Secret's values)."""
    values: dict[str, bytes] = {}
    ref = auth.secret_ref(default_namespace)
    if ref is not None:
        if kube is None:
            raise FetchError("git credentials: --git-secret needs a connection to the cluster")
        values.update(_from_secret(kube, *ref))
    given = {
        "username": auth.username.encode(),
        "password": auth.password.encode() or _read(auth.password_file, "--git-password-file"),
        "bearer_token": _read(auth.bearer_token_file, "--git-bearer-token-file"),
        "ssh_key": _read(auth.ssh_key_file, "--git-ssh-key"),
        "known_hosts": _read(auth.known_hosts_file, "--git-known-hosts"),
        "ca_cert": _read(auth.ca_file, "--git-ca-file"),
    }
    values.update({k: v for k, v in given.items() if v})
    return GitCredentials(
        username=_text(values.get("username", b""), "the username"),
        password=_text(values.get("password", b""), "the password"),
        bearer_token=_text(values.get("bearer_token", b""), "the bearer token"),
        ssh_key=values.get("ssh_key", b""),
        known_hosts=values.get("known_hosts", b""),
        ca_cert=values.get("ca_cert", b""),
    )


def provider(
    auth: GitAuth, kube: Kube | None, default_namespace: str
) -> Callable[[], GitCredentials] | None:
    """What a git source asks before each fetch (``None`` when no credentials are configured)."""
    if auth.empty:
        return None
    return lambda: resolve(auth, kube, default_namespace)
