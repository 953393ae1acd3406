"""One-shot set-up steps of the docker compose playground, run in the csops image.

    python setup.py pki  DIR   the API server's service-account key, a token and a kubeconfig
    python setup.py crds DIR   wait for DIR's kubeconfig and the API server, then install the
                               Cluster API CRDs (the API types in crds/ beside this file)

``pki`` keeps what a previous run wrote, so ``docker compose up`` after ``stop`` reuses it.
The token is random, written only into DIR (a volume) and never printed.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

SERVER = "https://kube-apiserver:6443"
#: Written by the API server at its first start (its own CA and serving certificate), for the
#: names kubernetes, kubernetes.default, … so clients verify it under the name ``kubernetes``.
SERVER_CA = "/var/run/kubernetes/apiserver.crt"
CSOPS_UID = 10001
READY_TIMEOUT = 180.0


def pki(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    key = directory / "sa.key"
    if not key.is_file():
        # An RSA key in PEM: the API server signs and checks ServiceAccount tokens with it.
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-f", str(key)],
            check=True,
        )
    tokens = directory / "tokens.csv"
    if not tokens.is_file():
        tokens.write_text(f"{secrets.token_urlsafe(32)},csops-admin,csops-admin,system:masters\n")
        tokens.chmod(0o600)
    token = tokens.read_text().split(",", 1)[0]
    kubeconfig = directory / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        "clusters:\n- name: playground\n  cluster:\n"
        f"    server: {SERVER}\n"
        f"    certificate-authority: {SERVER_CA}\n"
        "    tls-server-name: kubernetes\n"
        "users:\n- name: admin\n  user:\n"
        f"    token: {token}\n"
        "contexts:\n- name: playground\n  context: {cluster: playground, user: admin}\n"
        "current-context: playground\n"
    )
    kubeconfig.chmod(0o600)
    if os.geteuid() == 0:
        os.chown(kubeconfig, CSOPS_UID, CSOPS_UID)  # read by the csops service (uid 10001)
    print(f"pki: {directory} ready", flush=True)


def crds(directory: Path) -> None:
    kubeconfig = directory / "kubeconfig"
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        ready = subprocess.run(
            ["kubectl", "get", "--raw", "/readyz"], env=env, capture_output=True, check=False
        )
        if Path(SERVER_CA).is_file() and kubeconfig.is_file() and ready.returncode == 0:
            break
        if time.monotonic() > deadline:
            sys.exit(f"crds: the API server at {SERVER} is not ready: {ready.stderr.decode()}")
        time.sleep(1)
    # The playground runs no Cluster API controllers, so it needs only their API types: the
    # small CRDs next to this file (the test plane and `csops dev-cluster` use the real ones).
    manifests = Path(__file__).resolve().parent / "crds"
    subprocess.run(
        [
            "kubectl",
            "apply",
            "--server-side",
            "--field-manager=csops-playground",
            "-f",
            str(manifests),
        ],
        env=env,
        check=True,
    )
    subprocess.run(
        ["kubectl", "wait", "--for=condition=Established", "--timeout=120s", "crd", "--all"],
        env=env,
        check=True,
    )
    print("crds: Cluster API CRDs installed", flush=True)


if __name__ == "__main__":
    step, where = sys.argv[1], Path(sys.argv[2])
    {"pki": pki, "crds": crds}[step](where)
