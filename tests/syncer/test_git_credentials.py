"""Private git sources on real servers: HTTPS with a token against ``git http-backend``
behind Basic auth, credentials from a Secret, and SSH through Debian's ``sshd`` on a free
loopback port. A secret never reaches the output, and git never waits for a prompt."""

from __future__ import annotations

import base64
import secrets
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from csops.syncer.controller import sync_once
from csops.syncer.errors import FetchError
from csops.syncer.gitauth import GitAuth
from csops.syncer.kube import Kube
from csops.syncer.settings import Settings
from tests.addons.conftest import serving_cert
from tests.gitservers import GitHttpsServer, GitSshServer, bare_copy, client_key
from tests.syncer.conftest import StacksRepo

pytestmark = pytest.mark.integration

USER = "ci-bot"


def csops_sync(
    url: str, settings: Settings, *flags: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``csops sync URL --once`` against the test's cluster and inventory."""
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from csops.cli import main; main()",
            "sync",
            url,
            "--branch",
            "main",
            "--once",
            "--no-addons",
            "--kubeconfig",
            str(settings.kubeconfig),
            "--name",
            settings.name,
            "--inventory-namespace",
            settings.inventory_namespace,
            "--cache-dir",
            str(settings.cache_dir),
            *flags,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
        env=env,
    )


@pytest.fixture
def https(stacks_repo: StacksRepo, tmp_path: Path) -> Any:
    """The stacks repository served over HTTPS to ``USER`` with a fresh token."""
    token = f"glpat-{secrets.token_hex(12)}"
    cert, key, _ = serving_cert(tmp_path)
    bare_copy(stacks_repo.remote, tmp_path / "srv" / "stacks.git")
    with GitHttpsServer(tmp_path / "srv", USER, token, cert, key) as server:
        yield server, token, cert


def fetch_error(settings: Settings, kube: Kube) -> str:
    """The one-line error of a pass whose source cannot be fetched."""
    with pytest.raises(FetchError) as caught:
        sync_once(settings, kube)
    return str(caught.value)


@pytest.mark.timeout(400)
def test_private_https_repository_with_a_token(
    https: Any, kube: Kube, sync_config: Settings, tmp_path: Path
) -> None:
    server, token, ca = https
    url = server.url("stacks.git")
    private = replace(sync_config, repo=url)

    anonymous = fetch_error(replace(private, git=GitAuth(ca_file=ca)), kube)
    assert "cannot fetch branch 'main'" in anonymous and "Authentication failed" in anonymous
    assert server.authorizations == [""] * len(server.authorizations) != []  # asked, refused

    wrong = GitAuth(username=USER, password="not-the-token-4711", ca_file=ca)
    refused = fetch_error(replace(private, git=wrong), kube)
    assert "Authentication failed" in refused and "not-the-token-4711" not in refused
    assert server.served == 0

    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    before = len(server.authorizations)
    done = csops_sync(
        url,
        sync_config,
        "--git-ca-file",
        str(ca),
        "--git-username",
        USER,
        "--git-password-file",
        str(token_file),
    )
    assert done.returncode == 0, done.stderr
    assert server.served > 0 and " synced " in done.stderr
    assert token not in done.stderr + done.stdout
    encoded = base64.b64encode(f"{USER}:{token}".encode()).decode()
    assert set(server.authorizations[before:]) <= {"", f"Basic {encoded}"}

    in_url = url.replace("https://", f"https://{USER}:{token}@")
    untrusted = fetch_error(replace(private, repo=in_url, cache_dir=tmp_path / "other"), kube)
    assert token not in untrusted and "https://***@127.0.0.1" in untrusted  # CA not given


def test_https_credentials_from_a_secret(https: Any, kube: Kube, sync_config: Settings) -> None:
    server, token, ca = https
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "stacks-git", "namespace": sync_config.inventory_namespace},
        "stringData": {"username": USER, "password": token, "ca.crt": ca.read_text()},
    }
    kube.create(kube.resource("v1", "Secret"), secret)
    settings = replace(sync_config, repo=server.url("stacks.git"), git=GitAuth(secret="stacks-git"))
    assert sync_once(settings, kube).ok
    assert server.served > 0

    missing = replace(settings, git=GitAuth(secret="no-such-secret"))
    with pytest.raises(FetchError, match=r"Secret .*/no-such-secret \(--git-secret\) does not"):
        sync_once(missing, kube)


@pytest.mark.timeout(300)
def test_private_ssh_repository_with_a_key_and_known_hosts(
    stacks_repo: StacksRepo, kube: Kube, sync_config: Settings, tmp_path: Path
) -> None:
    key, public = client_key(tmp_path / "client")
    remote = bare_copy(stacks_repo.remote, tmp_path / "srv" / "stacks.git")
    with GitSshServer(tmp_path / "sshd", public) as server:
        url = server.url(remote)
        known_hosts = tmp_path / "known_hosts"
        known_hosts.write_text(server.known_hosts)
        stranger = tmp_path / "other_known_hosts"
        stranger.write_text(server.known_hosts.replace("127.0.0.1", "127.0.0.2"))
        identity = ["--git-ssh-key", str(key)]

        stranger_auth = GitAuth(ssh_key_file=key, known_hosts_file=stranger)
        unknown_host = fetch_error(replace(sync_config, repo=url, git=stranger_auth), kube)
        assert "Host key verification failed" in unknown_host

        done = csops_sync(url, sync_config, *identity, "--git-known-hosts", str(known_hosts))
        assert done.returncode == 0, done.stderr + server.log.read_text()
        assert " synced " in done.stderr
        private = key.read_text().splitlines()[1]
        assert private not in done.stderr and "Accepted publickey" in server.log.read_text()

        other_key, _ = client_key(tmp_path / "other")
        other = GitAuth(ssh_key_file=other_key, known_hosts_file=known_hosts)
        fresh = replace(sync_config, repo=url, git=other, cache_dir=tmp_path / "fresh-cache")
        assert "Permission denied" in fetch_error(fresh, kube)
