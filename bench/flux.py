"""Flux's source-controller and kustomize-controller as local processes, for the side by side.

The controllers (v1.9.6, built from the Go module proxy by ``hack/flux/build.py``, which
``make bench`` runs) talk to the bench's own kube-apiserver as user ``flux``; their CRDs come
from the same build. A workload set is committed to a git repository and served by
``git http-backend`` on loopback (:mod:`bench.githttp`). Each set gets a ``GitRepository`` and
a ``Kustomization`` (prune on, no health checks) in ``flux-system``, both with a one-hour
interval and suspended between measurements, so no interval reconcile lands in another case.
A measurement resumes the Kustomization with a reconcile request and ends when Flux reports
that request handled and the revision applied; the source is fetched before, untimed, as csops
reads its manifests from a local directory in the cases beside it.

:func:`write_counts` reads ``apiserver_request_total`` and splits write requests on the
workload's resources by the ``dry_run`` label (Flux dry-runs every object on every pass).

Why one long module: building, starting, feeding and reading one peer (two controllers, their
CRDs, git objects and metrics) is one adapter.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.githttp import GitHttpServer
from csops.controlplane.server import ControlPlane
from csops.syncer.errors import NotFoundError
from csops.syncer.kube import Kube
from csops.syncer.objects import Resource

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
NAMESPACE = "flux-system"
FLUX_USER = "flux"
GIT_REPOSITORY = Resource(
    "source.toolkit.fluxcd.io", "v1", "GitRepository", "gitrepositories", True
)
KUSTOMIZATION = Resource(
    "kustomize.toolkit.fluxcd.io", "v1", "Kustomization", "kustomizations", True
)
NAMESPACES = Resource("", "v1", "Namespace", "namespaces", False)
REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"
WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"})
_SAMPLE = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="([^"]*)"')
TIMEOUT_S = 600.0


class FluxError(RuntimeError):
    """Flux could not be built, started, or did not converge; the message says which."""


def bindir() -> Path:
    """The directory of the two controllers (built on first use; ``make bench`` builds it)."""
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "hack" / "flux" / "build.py"), "--print-bindir"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise FluxError(f"building Flux failed (run `make flux`):\n{done.stdout}{done.stderr}")
    return Path(done.stdout.strip().splitlines()[-1])


def version(binary: Path) -> str:
    """The controller's version as its build info records it (``go version -m``)."""
    done = subprocess.run(
        ["go", "version", "-m", str(binary)], capture_output=True, text=True, check=False
    )
    for line in done.stdout.splitlines():
        fields = line.split()
        if (
            len(fields) >= 3
            and fields[0] in ("mod", "dep")
            and fields[1] == f"github.com/fluxcd/{binary.name}"
        ):
            return fields[2]
    return "v1.9.6"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set (``VmHWM``) since start or the last :func:`reset_peak`."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_peak(pid: int) -> None:
    """Start the process's peak RSS afresh (``5`` to ``clear_refs``, Linux)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


@dataclass(frozen=True)
class Writes:
    """Write requests on the workload's resources: real ones and dry runs."""

    real: int
    dry_run: int


def _counts(kube_admin: Path, resources: frozenset[str]) -> dict[bool, int]:
    text = subprocess.run(
        [str(BIN / "kubectl"), "--kubeconfig", str(kube_admin), "get", "--raw", "/metrics"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    out = {False: 0, True: 0}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if not match:
            continue
        labels = dict(_LABEL.findall(match.group("labels")))
        if labels.get("verb") in WRITE_VERBS and labels.get("resource") in resources:
            out[bool(labels.get("dry_run"))] += int(float(match.group("value")))
    return out


def write_counts(
    plane: ControlPlane, resources: frozenset[str], fn: Callable[[], float]
) -> tuple[float, Writes]:
    """Run ``fn`` (it returns its own seconds) and count the write requests it caused."""
    before = _counts(plane.kubeconfig_path, resources)
    seconds = fn()
    after = _counts(plane.kubeconfig_path, resources)
    return seconds, Writes(after[False] - before[False], after[True] - before[True])


def _git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@csops.invalid",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@csops.invalid",
    }
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


class Flux:
    """The two controllers against one control plane, and the git server they fetch from."""

    def __init__(
        self, plane: ControlPlane, admin: Kube, scratch: Path, log: Callable[[str], None]
    ) -> None:
        self.plane = plane
        self.admin = admin
        self.scratch = scratch
        self.log = log
        self.git_root = scratch / "git"
        self.git_root.mkdir(parents=True, exist_ok=True)
        self.server = GitHttpServer(self.git_root)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.versions: dict[str, str] = {}

    # --- life cycle --------------------------------------------------------------------
    def start(self) -> Flux:
        bins = bindir()
        crds = bins.parent / "crds"
        kubectl = [str(BIN / "kubectl"), "--kubeconfig", str(self.plane.kubeconfig_path)]
        subprocess.run(
            [*kubectl, "apply", "--server-side", "-f", str(crds)], check=True, capture_output=True
        )
        subprocess.run(
            [*kubectl, "wait", "--for=condition=Established", "--timeout=120s", "-f", str(crds)],
            check=True,
            capture_output=True,
        )
        if self.admin.get_or_none(NAMESPACES, None, NAMESPACE) is None:
            self.admin.create(
                NAMESPACES,
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
            )
        self.server.start()
        env = {
            **os.environ,
            "KUBECONFIG": str(self.plane.kubeconfig_for(FLUX_USER)),
            "RUNTIME_NAMESPACE": NAMESPACE,
        }
        storage = _free_port()
        (self.scratch / "storage").mkdir(exist_ok=True)
        common = ["--log-level=error", "--log-encoding=json", "--watch-all-namespaces=true"]
        argv = {
            "source-controller": [
                f"--storage-path={self.scratch / 'storage'}",
                f"--storage-addr=127.0.0.1:{storage}",
                f"--storage-adv-addr=127.0.0.1:{storage}",
            ],
            "kustomize-controller": ["--no-cross-namespace-refs=false"],
        }
        for name, extra in argv.items():
            health = _free_port()
            log = (self.scratch / f"{name}.log").open("wb")
            self.processes[name] = subprocess.Popen(
                [
                    str(bins / name),
                    f"--metrics-addr=127.0.0.1:{_free_port()}",
                    f"--health-addr=127.0.0.1:{health}",
                    *common,
                    *extra,
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            log.close()
            self._wait_ready(name, health)
            self.versions[name] = version(bins / name)
        return self

    def _wait_ready(self, name: str, port: int) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.processes[name].poll() is not None:
                raise FluxError(f"{name} exited at start:\n{self.log_tail(name)}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise FluxError(f"{name} not ready in 120 s:\n{self.log_tail(name)}")

    def log_tail(self, name: str) -> str:
        path = self.scratch / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.is_file() else ""

    def stop(self) -> None:
        """Stop both controllers (by their PIDs) and the git server."""
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.processes.clear()
        self.server.stop()

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes.values()]

    def reset_peaks(self) -> None:
        for pid in self.pids:
            reset_peak(pid)

    def peak_mib(self) -> float:
        """Peak RSS of the two controllers together since :meth:`reset_peaks`."""
        return sum(peak_rss_mib(pid) for pid in self.pids)

    # --- a workload set ----------------------------------------------------------------
    def publish(self, root: Path, name: str) -> tuple[str, str]:
        """Commit ``root`` and push it to ``NAME.git`` on the server: (clone URL, commit)."""
        _git(root, "init", "-q", "-b", "main")
        _git(root, "add", "-A")
        _git(root, "commit", "-q", "-m", "bench")
        bare = self.git_root / f"{name}.git"
        subprocess.run(
            ["git", "clone", "-q", "--bare", str(root), str(bare)], check=True, capture_output=True
        )
        return self.server.url(f"{name}.git"), _git(root, "rev-parse", "HEAD")

    def push(self, root: Path, name: str) -> str:
        """Commit every change of ``root`` and push it; the new commit."""
        _git(root, "add", "-A")
        _git(root, "commit", "-q", "-m", "bench change")
        _git(root, "push", "-q", str(self.git_root / f"{name}.git"), "main")
        return _git(root, "rev-parse", "HEAD")

    def fetch(self, name: str, url: str, commit: str) -> None:
        """Create (or resume) the set's GitRepository, wait for ``commit``'s artifact, suspend."""
        existing = self.admin.get_or_none(GIT_REPOSITORY, NAMESPACE, name)
        token = str(time.time_ns())
        if existing is None:
            self.admin.create(
                GIT_REPOSITORY,
                {
                    "apiVersion": GIT_REPOSITORY.api_version,
                    "kind": "GitRepository",
                    "metadata": {"name": name, "namespace": NAMESPACE},
                    "spec": {"url": url, "interval": "60m", "ref": {"branch": "main"}},
                },
            )
        else:
            self._patch(GIT_REPOSITORY, name, suspend=False, token=token)

        def fetched(obj: dict[str, Any]) -> bool:
            artifact = (obj.get("status") or {}).get("artifact") or {}
            return str(artifact.get("revision", "")).endswith(commit) and _ready(obj)

        self._until(GIT_REPOSITORY, name, fetched, "source-controller fetching the commit")
        self._patch(GIT_REPOSITORY, name, suspend=True)

    def apply(self, name: str, commit: str) -> float:
        """Create the set's Kustomization; seconds until Flux applied ``commit``; suspend."""
        start = time.perf_counter()
        self.admin.create(
            KUSTOMIZATION,
            {
                "apiVersion": KUSTOMIZATION.api_version,
                "kind": "Kustomization",
                "metadata": {"name": name, "namespace": NAMESPACE},
                "spec": {
                    "interval": "60m",
                    "path": "./rendered/manifests",
                    "prune": True,
                    "timeout": "10m",
                    "sourceRef": {"kind": "GitRepository", "name": name},
                },
            },
        )
        self._until(KUSTOMIZATION, name, _applied(commit), "kustomize-controller applying")
        seconds = time.perf_counter() - start
        self._patch(KUSTOMIZATION, name, suspend=True)
        return seconds

    def reconcile(self, name: str, commit: str) -> float:
        """Resume the Kustomization with a reconcile request; seconds until handled; suspend."""
        token = str(time.time_ns())
        start = time.perf_counter()
        self._patch(KUSTOMIZATION, name, suspend=False, token=token)

        def handled(obj: dict[str, Any]) -> bool:
            status = obj.get("status") or {}
            return status.get("lastHandledReconcileAt") == token and _applied(commit)(obj)

        self._until(KUSTOMIZATION, name, handled, "kustomize-controller reconciling")
        seconds = time.perf_counter() - start
        self._patch(KUSTOMIZATION, name, suspend=True)
        return seconds

    def forget(self, name: str) -> None:
        """Delete the set's Flux objects (suspended: Flux deletes none of the set's objects)."""
        for resource in (KUSTOMIZATION, GIT_REPOSITORY):
            with contextlib.suppress(NotFoundError):
                self.admin.delete(resource, NAMESPACE, name)

    def _patch(self, resource: Resource, name: str, *, suspend: bool, token: str = "") -> None:
        live = self.admin.get(resource, NAMESPACE, name)
        live["spec"]["suspend"] = suspend
        if token:
            live["metadata"].setdefault("annotations", {})[REQUESTED_AT] = token
        self.admin.replace(resource, live)

    def _until(
        self, resource: Resource, name: str, done: Callable[[dict[str, Any]], bool], what: str
    ) -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            obj = self.admin.get(resource, NAMESPACE, name)
            if done(obj):
                return
            failed = _failure(obj)
            if failed:
                raise FluxError(f"{what}: {name} failed: {failed}")
            time.sleep(0.05)
        tail = self.log_tail("kustomize-controller")
        raise FluxError(f"{what}: {name} not done in {TIMEOUT_S:.0f} s; logs:\n{tail}")


FAILURES = frozenset(
    {
        "ReconciliationFailed",
        "BuildFailed",
        "HealthCheckFailed",
        "PruneFailed",
        "GitOperationFailed",
    }
)


def _failure(obj: dict[str, Any]) -> str:
    """``reason: message`` of a Ready condition that no retry cures, else empty."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready" and cond.get("reason") in FAILURES:
            return f"{cond.get('reason')}: {cond.get('message')}"
    return ""


def _ready(obj: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (obj.get("status") or {}).get("conditions") or []
    )


def _applied(commit: str) -> Callable[[dict[str, Any]], bool]:
    def check(obj: dict[str, Any]) -> bool:
        status = obj.get("status") or {}
        return str(status.get("lastAppliedRevision", "")).endswith(commit) and _ready(obj)

    return check
