"""How git authenticates to a private remote, handed to git through its environment only.

Nothing secret ever goes on a command line (``ps`` would show it) or into a message:

- HTTPS user and password (or token): a credential helper scoped to the remote's URL reads them
  from two environment variables of the git process, so git sends them only to that host, and
  only when it asks (a 401), as with any helper;
- HTTPS bearer token: an ``Authorization`` header scoped to the remote's URL;
- a CA bundle: ``http.<url>.sslCAInfo``, and ``GIT_SSL_CAINFO`` (which would win over it);
- SSH: ``GIT_SSH_COMMAND`` with the key (a private copy, mode 0600), ``IdentitiesOnly``, batch
  mode, and strict host key checking against the given ``known_hosts`` (or the user's own).

Configuration goes through ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n``.
:func:`redact` removes every secret, and any ``user:password@`` of a URL, from a text.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

USERNAME_VARIABLE = "CSOPS_GIT_HELPER_USERNAME"
PASSWORD_VARIABLE = "CSOPS_GIT_HELPER_PASSWORD"
DEFAULT_USERNAME = "git"
_HELPER = (
    '!f() { test "$1" = get || return 0; '
    f'printf "username=%s\\npassword=%s\\n" "${USERNAME_VARIABLE}" "${PASSWORD_VARIABLE}"; }}; f'
)
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")


@dataclass(frozen=True)
class GitCredentials:
    """What to authenticate with; every part optional. Values never appear in a repr."""

    username: str = ""
    password: str = field(default="", repr=False)
    bearer_token: str = field(default="", repr=False)
    ssh_key: bytes = field(default=b"", repr=False)
    known_hosts: bytes = b""
    ca_cert: bytes = b""

    def secrets(self) -> list[str]:
        """The values that must never be shown."""
        found = [self.password, self.bearer_token]
        found += [line for line in self.ssh_key.decode(errors="replace").splitlines() if line]
        return [s for s in found if len(s) >= 4]


def redact(text: str, credentials: GitCredentials | None = None) -> str:
    """``text`` without secrets: every secret value and every URL's ``user:password@``."""
    for secret in sorted(credentials.secrets() if credentials else [], key=len, reverse=True):
        text = text.replace(secret, "***")
    return _USERINFO.sub(lambda m: f"{m['scheme']}***@", text)


def _private(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_bytes(data if data.endswith(b"\n") else data + b"\n")
    return path


def environment(
    url: str,
    credentials: GitCredentials,
    directory: Path,
    existing_config_count: str | None = None,
) -> dict[str, str]:
    """Environment additions for git talking to ``url``; files go into ``directory`` (0700).

    ``existing_config_count`` is the caller's ``GIT_CONFIG_COUNT``, so its entries are kept.

    git never prompts: without credentials a private remote fails at once with git's own
    message.
    """
    env = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "SSH_ASKPASS": "true"}
    config: list[tuple[str, str]] = []
    if credentials.password:
        env[USERNAME_VARIABLE] = credentials.username or DEFAULT_USERNAME
        env[PASSWORD_VARIABLE] = credentials.password
        config += [("credential.helper", ""), (f"credential.{url}.helper", _HELPER)]
    if credentials.bearer_token:
        header = f"Authorization: Bearer {credentials.bearer_token}"
        config.append((f"http.{url}.extraHeader", header))
    if credentials.ca_cert:
        bundle = _private(directory, "ca.crt", credentials.ca_cert)
        config.append((f"http.{url}.sslCAInfo", str(bundle)))
        env["GIT_SSL_CAINFO"] = str(bundle)  # the variable, where set, wins over any config
    if credentials.ssh_key or credentials.known_hosts:
        env["GIT_SSH_COMMAND"] = shlex.join(_ssh(credentials, directory))
        env["GIT_SSH_VARIANT"] = "ssh"
    if config:
        first = int(existing_config_count or 0)
        env["GIT_CONFIG_COUNT"] = str(first + len(config))
        for index, (key, value) in enumerate(config, start=first):
            env[f"GIT_CONFIG_KEY_{index}"] = key
            env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


def _ssh(credentials: GitCredentials, directory: Path) -> list[str]:
    """The ssh command line: only the files' paths, never their contents."""
    ssh = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]
    if credentials.ssh_key:
        key = _private(directory, "identity", credentials.ssh_key)
        ssh += ["-i", str(key), "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none"]
    if credentials.known_hosts:
        hosts = _private(directory, "known_hosts", credentials.known_hosts)
        ssh += ["-o", f"UserKnownHostsFile={hosts}", "-o", "GlobalKnownHostsFile=/dev/null"]
    return ssh
