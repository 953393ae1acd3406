"""Loading kubeconfigs from several threads at once (the addon controller builds one client per
workload cluster in its worker pool).

The ``kubernetes`` client writes certificate data to temporary files kept in one process-wide
cache, and enters a file there before writing it. Two threads loading the same certificate
used to race: the second got the still-empty file and failed its first request with
``NO_CERTIFICATE_OR_CRL_FOUND`` (seen in the fan-out bench: clusters sharing a workload
plane's CA, 16 workers). The window is widened here by holding the first writer until the
second load returns or a timeout passes; the outcome does not depend on the timeout.
"""

from __future__ import annotations

import base64
import secrets
import threading
from pathlib import Path
from typing import Any

import pytest

from csops.syncer.kube import Kube

pytestmark = pytest.mark.unit

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {{server: "https://127.0.0.1:1", certificate-authority-data: "{ca}"}}
users:
- name: u
  user: {{token: "t"}}
contexts:
- name: c
  context: {{cluster: c, user: u}}
current-context: c
"""
HOLD_S = 2.0


def test_a_certificate_file_is_written_before_another_thread_gets_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kubernetes.config import kube_config

    # certificate data no other test loaded: the client's file cache has no entry for it
    ca = base64.b64encode(secrets.token_bytes(64)).decode()
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG.format(ca=ca))
    first_writing = threading.Event()
    second_loaded = threading.Event()
    writes = []

    def held_open(name: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "w" in mode and not writes:
            writes.append(name)
            first_writing.set()
            second_loaded.wait(HOLD_S)
        return Path(name).open(mode, *args, **kwargs)

    monkeypatch.setattr(kube_config, "open", held_open, raising=False)
    seen: dict[str, bytes] = {}
    clients: list[Kube] = []

    def load(who: str) -> None:
        kube = Kube.from_kubeconfig(path)
        clients.append(kube)
        seen[who] = Path(kube._api.configuration.ssl_ca_cert).read_bytes()
        if who == "second":
            second_loaded.set()

    first = threading.Thread(target=load, args=("first",))
    first.start()
    assert first_writing.wait(10), "the first load never wrote its certificate file"
    second = threading.Thread(target=load, args=("second",))
    second.start()
    first.join(10)
    second.join(10)
    for kube in clients:
        kube.close()
    expected = base64.b64decode(ca)
    assert seen == {"first": expected, "second": expected}
