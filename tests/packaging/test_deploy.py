"""The in-cluster install: ``kubectl apply -k deploy/kubernetes`` on the suite's API server,
then ``csops sync`` (its addon controller included) and ``csops addons`` with nothing but the
``csops`` ServiceAccount's token. The audit log proves the RBAC is enough (no 403) and no more
than needed (every granted permission is used, but for the few listed with their reason)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from csops.controlplane import ControlPlane
from csops.controlplane.audit import AuditLog
from csops.controlplane.clusters import Clusters
from csops.controlplane.kubeconfig import kubeconfig_document, write_kubeconfig
from csops.controlplane.ports import free_port
from csops.renderer import render_repo, write
from tests.addons.conftest import ready
from tests.examples import rehome_stacks
from tests.packaging.conftest import KUBECTL, REPO_ROOT, granted, kustomize, ok, run
from tests.polling import eventually

pytestmark = pytest.mark.integration

SA_USER = "system:serviceaccount:csops-system:csops"
CAN_I_ROW = re.compile(r"^(\S*)\s+(\[.*?\])\s+(\[.*?\])\s+(\[.*?\])\s*$")
CLI = "from csops.cli import main; main()"

#: Granted but not exercised here, and why each is still needed.
UNUSED_GRANTS = {
    # Applying the tree creates the namespaces it adds; here the test's namespace exists.
    ("", "namespaces", "create"),
    # A Cluster on OpenStack references an OpenStackCluster; the one here runs on Docker.
    ("infrastructure.cluster.x-k8s.io", "openstackclusters", "get"),
}
#: Creating csops's CRDs and reading them until established, unused when they exist already.
CRDS_PRESENT = {
    ("apiextensions.k8s.io", "customresourcedefinitions", "create"),
    ("apiextensions.k8s.io", "customresourcedefinitions", "get"),
}
#: Rendered files of the stacks the test removes from git, so that every kind is pruned once.
PRUNED = ("docker-alder-1-30", "openstack-birch-1-31", "ubuntu-capi-image")
#: The ORC Image birch's classes and templates wait for (node images first).
ORC_IMAGE = "ubuntu-capi-image-v1.31.6"
#: The cluster-scoped admission objects (policies, bindings, their parameter), pruned too.
ADMISSION = ("validatingadmissionpolicy", "clusterclasstable.csops.io")


def used(audit_events: list[Any]) -> set[tuple[str, str, str]]:
    """(apiGroup, resource[/subresource], verb) of resource requests; patch-creates too."""
    out = set()
    for event in audit_events:
        if not event.resource:
            continue  # discovery (non-resource URLs), allowed to every authenticated user
        resource = f"{event.resource}/{event.subresource}" if event.subresource else event.resource
        out.add((event.api_group, resource, event.verb))
        if event.verb == "patch" and event.status_code == 201:
            out.add((event.api_group, resource, "create"))  # server-side apply created it
    return out


@pytest.fixture(scope="module")
def deployed(control_plane: ControlPlane, capi_crds: list[str]) -> list[dict[str, Any]]:
    """The kustomize base applied with ``kubectl apply -k`` as the cluster admin."""
    ok(
        run(
            KUBECTL,
            "apply",
            "-k",
            REPO_ROOT / "deploy" / "kubernetes",
            "--kubeconfig",
            control_plane.kubeconfig_path,
        )
    )
    return kustomize()


@pytest.fixture(scope="module")
def sa_kubeconfig(
    deployed: list[dict[str, Any]], control_plane: ControlPlane, tmp_path_factory: Any
) -> Path:
    """A kubeconfig holding only a token of the ``csops`` ServiceAccount (TokenRequest)."""
    at = tmp_path_factory.mktemp("sa") / "kubeconfig"
    return _token_kubeconfig(control_plane, "csops", "csops-system", at)


def csops(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return run(sys.executable, "-c", CLI, *args, timeout=timeout, env=_env())


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}


@pytest.fixture
def stacks(tmp_path: Path, namespace: str) -> Path:
    repo = rehome_stacks(tmp_path / "stacks", namespace)
    write(render_repo(repo))
    return repo


Replica = tuple[subprocess.Popen[str], int, Path]


@pytest.fixture
def replicas(
    stacks: Path, sa_kubeconfig: Path, namespace: str, tmp_path: Path
) -> Iterator[Callable[[], list[Replica]]]:
    """Starts two ``csops sync`` replicas as the Deployment runs them (a Lease, a listener
    each), when the test calls it (inside its audit window); stops them afterwards."""
    started: list[Replica] = []

    def start() -> list[Replica]:
        for replica in (1, 2):
            port = free_port()
            log = tmp_path / f"sync-{replica}.log"
            with log.open("w") as out:
                process = subprocess.Popen(
                    [
                        sys.executable,
                        "-c",
                        CLI,
                        "sync",
                        str(stacks),
                        "--kubeconfig",
                        str(sa_kubeconfig),
                        "--name",
                        f"deploy-{namespace}",
                        "--leader-elect",
                        "--listen",
                        f"127.0.0.1:{port}",
                        "--addons-namespace",
                        namespace,
                        "--cache-dir",
                        str(tmp_path / f"cache-{replica}"),
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    text=True,
                    env=_env(),
                )
            started.append((process, port, log))
        return started

    try:
        yield start
    finally:
        for process, _, _ in started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, _, _ in started:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _reference_machinery(clusters: Clusters, name: str) -> None:
    """Point the Cluster at its control plane and infrastructure, as CAPI's topology does."""

    def refer(live: dict[str, Any]) -> None:
        live["spec"]["controlPlaneRef"] = {
            "apiVersion": "controlplane.cluster.x-k8s.io/v1beta1",
            "kind": "KubeadmControlPlane",
            "name": f"{name}-control-plane",
            "namespace": clusters.namespace,
        }
        live["spec"]["infrastructureRef"] = {
            "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
            "kind": "DockerCluster",
            "name": name,
            "namespace": clusters.namespace,
        }

    clusters.edit(name, refer, what=f"Cluster {name} referencing its machinery")


def _report_image_available(kubeconfig: Path, namespace: str) -> None:
    """What ORC writes once the image is uploaded: ``Available`` True."""
    now = "2026-01-01T00:00:00Z"
    conditions = [
        {"type": t, "status": s, "reason": "Success", "message": "", "lastTransitionTime": now}
        for t, s in (("Available", "True"), ("Progressing", "False"))
    ]
    patch = json.dumps({"status": {"conditions": conditions, "id": "0d9a1d9c"}})
    ok(
        run(
            KUBECTL,
            "patch",
            "images.openstack.k-orc.cloud",
            ORC_IMAGE,
            "-n",
            namespace,
            "--subresource=status",
            "--type=merge",
            "-p",
            patch,
            "--kubeconfig",
            kubeconfig,
        )
    )


def _admission_creates_not_needed(clusters: Clusters, stacks: Path) -> set[tuple[str, str, str]]:
    """The create grants of the admission kinds whose rendered objects all exist already.

    They are cluster-scoped and share their names across the session's plane, so an earlier
    test's sync may have created them; the leader then only reads and patches them.
    """
    present: dict[tuple[str, str, str], bool] = {}
    scoped = stacks / "rendered/manifests/cluster-scoped"
    for manifest in sorted(scoped.rglob("*.yaml")):
        if not manifest.parent.name.startswith(ADMISSION):
            continue
        body = yaml.safe_load(manifest.read_text())
        resource = clusters.kube.resource(body["apiVersion"], body["kind"])
        grant = (resource.group, resource.plural, "create")
        exists = clusters.kube.get_or_none(resource, None, body["metadata"]["name"]) is not None
        present[grant] = present.get(grant, True) and exists
    assert present, f"no admission objects under {scoped}"
    return {grant for grant, exists in present.items() if exists}


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@pytest.mark.timeout(600)
def test_sync_and_addons_run_with_only_the_service_account_token(
    *,
    control_plane: ControlPlane,
    deployed: list[dict[str, Any]],
    sa_kubeconfig: Path,
    stacks: Path,
    namespace: str,
    clusters: Clusters,
    audit: AuditLog,
    replicas: Callable[[], list[Replica]],
    tmp_path: Path,
) -> None:
    crd = clusters.kube.resource("apiextensions.k8s.io/v1", "CustomResourceDefinition")
    # The plane is shared by the session: an earlier test may have applied csops's CRDs.
    crds_existed = all(
        clusters.kube.get_or_none(crd, None, f"{plural}.clusterstack.x-k8s.io") is not None
        for plural in ("clusterstacks", "clusterstackreleases", "clusteraddons")
    )
    admission_present = _admission_creates_not_needed(clusters, stacks)
    with audit.window() as window:
        clusters.create("deployed", "docker-alder-1-29-v1", "v1.29.4")
        _reference_machinery(clusters, "deployed")
        # Two long-running replicas (what the Deployment runs): one leads, both are ready.
        running = replicas()
        for process, port, log in running:
            eventually(
                lambda p=process, n=port: _ready(n) or p.poll() is not None,
                timeout=240,
                what="replica ready",
            )
            assert process.poll() is None, log.read_text()[-4000:]
        eventually(lambda: ready(clusters.addon("deployed")), timeout=240, what="addons ready")
        # Birch's classes and templates wait for its ORC Image; once ORC reports it, the
        # leader applies them.
        _report_image_available(control_plane.kubeconfig_path, namespace)
        template = clusters.kube.resource(
            "infrastructure.cluster.x-k8s.io/v1beta1", "OpenStackMachineTemplate"
        )
        eventually(
            lambda: clusters.kube.list(template, namespace=namespace).items,
            timeout=240,
            what="birch's templates applied once its image is available",
        )
        # ... and watches them for drift from then on.
        for kind in ("openstackmachinetemplates", "openstackclustertemplates"):
            eventually(
                lambda r=kind: window.requests(user=SA_USER, verb="watch", resource=r),
                timeout=120,
                what=f"the leader watching {kind}",
            )
        lease = clusters.kube.get(
            clusters.kube.resource("coordination.k8s.io/v1", "Lease"),
            "csops-system",
            f"deploy-{namespace}-leader",
        )
        holder = lease["spec"]["holderIdentity"]
        assert [p.pid for p, _, _ in running if holder.endswith(f"_{p.pid}")], holder
        for process, _, _ in running:
            process.send_signal(signal.SIGTERM)
        for process, _, log in running:
            assert process.wait(timeout=60) == 0, log.read_text()[-4000:]

        # One pass that prunes two stacks removed from git: every kind of them is deleted.
        manifests = stacks / "rendered/manifests"
        for manifest in (manifests / namespace).rglob("*.yaml"):
            if manifest.name.startswith(PRUNED):
                manifest.unlink()
        for manifest in (manifests / "cluster-scoped").rglob("*.yaml"):
            if manifest.parent.name.startswith(ADMISSION):
                manifest.unlink()
        once = csops(
            "sync",
            stacks,
            "--once",
            "--kubeconfig",
            sa_kubeconfig,
            "--name",
            f"deploy-{namespace}",
            "--addons-namespace",
            namespace,
            "--cache-dir",
            tmp_path / "cache",
            "--max-prune-share",
            "0.9",
        )
        assert once.returncode == 0, once.stdout[-3000:] + once.stderr[-3000:]

        # The addon controller on its own.
        addons = csops(
            "addons",
            "--once",
            "--releases",
            stacks / "rendered" / "releases",
            "--kubeconfig",
            sa_kubeconfig,
            "--namespace",
            namespace,
        )
        assert addons.returncode == 0, addons.stdout[-3000:] + addons.stderr[-3000:]

    events = window.requests(user=SA_USER)
    forbidden = sorted(
        {(e.verb, e.api_group, e.resource, e.subresource) for e in events if e.status_code == 403}
    )
    assert forbidden == [], forbidden
    grants = granted(deployed)
    calls = used(events)
    assert calls <= grants, sorted(calls - grants)
    unused = UNUSED_GRANTS | (CRDS_PRESENT if crds_existed else set()) | admission_present
    assert grants - calls == unused, sorted((grants - calls) ^ unused)


def _can_i(kubeconfig: Path, namespace: str) -> list[tuple[str, str, str, str]]:
    """``kubectl auth can-i --list``: (resource, non-resource URLs, names, verbs) per row."""
    listed = ok(
        run(KUBECTL, "auth", "can-i", "--list", "-n", namespace, "--kubeconfig", kubeconfig)
    )
    rows = []
    for line in listed.stdout.splitlines()[1:]:
        match = CAN_I_ROW.match(line)
        assert match, line
        rows.append(match.groups())
    return rows


def _token_kubeconfig(control_plane: ControlPlane, account: str, namespace: str, at: Path) -> Path:
    """A kubeconfig with a fresh token of ServiceAccount ``namespace/account``."""
    token = ok(
        run(
            KUBECTL,
            "create",
            "token",
            account,
            "-n",
            namespace,
            "--duration=1h",
            "--kubeconfig",
            control_plane.kubeconfig_path,
        )
    ).stdout.strip()
    document = kubeconfig_document(
        name="management",
        server=control_plane.url,
        ca_pem=control_plane.credentials.ca_pem,
        token=token,
        user=account,
    )
    return write_kubeconfig(at, document)


def test_the_service_account_holds_no_wildcard(
    sa_kubeconfig: Path, control_plane: ControlPlane, tmp_path: Path
) -> None:
    """No wildcard among csops's resource rules; its non-resource rules (discovery) are the
    ones every authenticated account gets, as the account ``default`` shows."""
    ok(
        run(
            KUBECTL,
            "create",
            "serviceaccount",
            "plain",
            "-n",
            "default",
            "--kubeconfig",
            control_plane.kubeconfig_path,
        )
    )
    plain = _token_kubeconfig(control_plane, "plain", "default", tmp_path / "plain")
    for namespace in ("csops-system", "default"):
        rows = _can_i(sa_kubeconfig, namespace)
        for resource, _, names, verbs in rows:
            assert "*" not in resource and "*" not in verbs and "*" not in names, (resource, verbs)
        assert any(r.startswith("clusterstacks.clusterstack.x-k8s.io") for r, *_ in rows)
        baseline = {row for row in _can_i(plain, namespace) if not row[0]}
        assert {row for row in rows if not row[0]} == baseline
