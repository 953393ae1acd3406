"""How git authenticates to a private remote, handed to git through its environment only.

Nothing secret ever goes on a command line (``ps`` would show it) or into a message:

- HTTPS user and password (or token): a Basic ``Authorization`` header scoped to the remote's
  URL, so git sends them only to that server (a credential helper would need ``/bin/sh``, which
  the image does not need);
- HTTPS bearer token: an ``Authorization`` header scoped to the remote's URL;
- a CA bundle: ``http.<url>.sslCAInfo``, and ``GIT_SSL_CAINFO`` (which would win over it);
- SSH: ``GIT_SSH`` is :mod:`csops.gitssh` (git executes it without a shell), which runs ssh with
  the key (a private copy, mode 0600), ``IdentitiesOnly``, batch mode, and strict host key
  checking against the given ``known_hosts`` (or the user's own).

Configuration goes through ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n``.
:func:`redact` removes every secret, and any ``user:password@`` of a URL, from a text.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from csops.gitssh import OPTIONS_VARIABLE, PROGRAM

DEFAULT_USERNAME = "git"
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

    def basic_authorization(self) -> str:
        """The Basic credentials of ``username`` and ``password`` ("" without a password)."""
        if not self.password:
            return ""
        pair = f"{self.username or DEFAULT_USERNAME}:{self.password}"
        return base64.b64encode(pair.encode()).decode()

    def secrets(self) -> list[str]:
        """The values that must never be shown."""
        found = [self.password, self.bearer_token, self.basic_authorization()]
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
        header = f"Authorization: Basic {credentials.basic_authorization()}"
        config.append((f"http.{url}.extraHeader", header))
    if credentials.bearer_token:
        header = f"Authorization: Bearer {credentials.bearer_token}"
        config.append((f"http.{url}.extraHeader", header))
    if credentials.ca_cert:
        bundle = _private(directory, "ca.crt", credentials.ca_cert)
        config.append((f"http.{url}.sslCAInfo", str(bundle)))
        env["GIT_SSL_CAINFO"] = str(bundle)  # the variable, where set, wins over any config
    if credentials.ssh_key or credentials.known_hosts:
        ssh = _ssh(credentials, directory)
        program = ssh_program()
        if program:
            env["GIT_SSH"] = program
            env[OPTIONS_VARIABLE] = json.dumps(ssh[1:])
        else:  # csops not installed with its scripts: git runs this through /bin/sh
            env["GIT_SSH_COMMAND"] = shlex.join(ssh)
        env["GIT_SSH_VARIANT"] = "ssh"
    if config:
        first = int(existing_config_count or 0)
        env["GIT_CONFIG_COUNT"] = str(first + len(config))
        for index, (key, value) in enumerate(config, start=first):
            env[f"GIT_CONFIG_KEY_{index}"] = key
            env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


def ssh_program() -> str:
    """The path of ``csops-git-ssh`` (beside this Python, or on ``PATH``), or ""."""
    beside = Path(sys.executable).with_name(PROGRAM)
    return str(beside) if beside.is_file() else shutil.which(PROGRAM) or ""


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
