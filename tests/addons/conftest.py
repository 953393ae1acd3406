"""Fixtures for addon tests: rendered example stacks (v1 and v2), a management and a workload
control plane, Clusters whose kubeconfig Secret points at the workload plane."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from csops.controlplane import ControlPlane
from csops.controlplane.clusters import Clusters, remove_owned
from csops.renderer import render_repo, write
from csops.syncer.addons.controller import AddonController, AddonOptions
from csops.syncer.kube import Kube
from tests.polling import eventually

REPO_ROOT = Path(__file__).resolve().parents[2]
STACKS = REPO_ROOT / "stacks"
ADDON_CRD = STACKS / "rendered/manifests/crds/clusteraddons.clusterstack.x-k8s.io.yaml"


def _bump_versions(stack: Path, versions: list[str]) -> None:
    text = stack.read_text()
    stack.write_text(
        re.sub(
            r"versions:\n(\s+- v\d+\n?)+",
            "versions:\n" + "".join(f"    - {v}\n" for v in versions),
            text,
        )
    )


@pytest.fixture(scope="session")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``rendered/releases`` of the example stacks at v1, plus v2 of two stacks:

    - ``openstack-birch-1-31-v2``: Kubernetes v1.31.7, new addons (flannel config changed,
      the CCM's ClusterRoleBinding dropped);
    - ``docker-alder-1-29-v2``: a class-only change (addon version stays v1).
    """
    work = tmp_path_factory.mktemp("stacks") / "stacks"
    shutil.copytree(STACKS, work, ignore=shutil.ignore_patterns("rendered"))
    write(render_repo(work))
    birch = work / "providers/openstack/birch"
    csctl = birch / "csctl.yaml"
    csctl.write_text(csctl.read_text().replace("v1.31.6", "v1.31.7"))
    cni = birch / "cluster-addon/cni/templates/configmap.yaml"
    cni.write_text(cni.read_text().replace('"name": "cbr0"', '"name": "cbr1"'))
    rbac = birch / "cluster-addon/ccm/templates/rbac.yaml"
    docs = [d for d in rbac.read_text().split("\n---\n") if "kind: ClusterRoleBinding" not in d]
    rbac.write_text("\n---\n".join(docs))
    values = work / "providers/docker/alder/1-29/cluster-class/values.yaml"
    values.write_text(values.read_text().replace('"true"', '"false"'))
    for name in ("openstack-birch-1-31", "docker-alder-1-29"):
        _bump_versions(work / f"clusterstacks/{name}.yaml", ["v1", "v2"])
    write(render_repo(work))
    out = work / "rendered/releases"
    assert (out / "openstack-birch-1-31-v2").is_dir()
    assert (out / "docker-alder-1-29-v2").is_dir()
    return out


@pytest.fixture
def releases_copy(releases: Path, tmp_path: Path) -> Path:
    """A private copy of the releases a test may break."""
    target = tmp_path / "releases"
    shutil.copytree(releases, target)
    return target


@pytest.fixture(scope="session")
def mgmt(control_plane: ControlPlane, capi_crds: list[str]) -> Iterator[Kube]:
    """The management plane (user ``csops``) with the ClusterAddon CRD installed."""
    kube = Kube.from_kubeconfig(control_plane.kubeconfig_for("csops"))
    crd = yaml.safe_load(ADDON_CRD.read_text())
    resource = kube.resource("apiextensions.k8s.io/v1", "CustomResourceDefinition")
    kube.apply(resource, crd)

    def established() -> bool:
        live = kube.get(resource, None, crd["metadata"]["name"])
        return any(
            c["type"] == "Established" and c["status"] == "True"
            for c in (live.get("status") or {}).get("conditions") or []
        )

    eventually(established, what="ClusterAddon CRD Established")
    yield kube
    kube.close()


@pytest.fixture(scope="session")
def workload_kubeconfig(workload_control_plane: ControlPlane) -> bytes:
    return workload_control_plane.kubeconfig_path.read_bytes()


@pytest.fixture
def workload(workload_control_plane: ControlPlane) -> Iterator[Kube]:
    """The workload plane (admin), with every csops-owned object removed before the test."""
    kube = Kube.from_kubeconfig(workload_control_plane.kubeconfig_path)
    remove_owned(kube)
    yield kube
    kube.close()


@pytest.fixture
def clusters(mgmt: Kube, namespace: str, workload_kubeconfig: bytes, releases: Path) -> Clusters:
    return Clusters(mgmt, namespace, workload_kubeconfig, releases.parent / "manifests")


def fast_options(namespace: str, **overrides: Any) -> AddonOptions:
    options = AddonOptions(
        interval=5.0,
        waiting_interval=0.1,
        backoff_base=0.1,
        backoff_cap=1.0,
        tick=0.05,
        namespace=namespace,
    )
    for key, value in overrides.items():
        setattr(options, key, value)
    return options


@pytest.fixture
def controller(mgmt: Kube, releases: Path, namespace: str) -> Iterator[AddonController]:
    ctl = AddonController(mgmt, releases, fast_options(namespace))
    yield ctl
    ctl.clients.close()


def condition(addon: dict[str, Any] | None, ctype: str) -> dict[str, Any]:
    for cond in ((addon or {}).get("status") or {}).get("conditions") or []:
        if cond["type"] == ctype:
            return dict(cond)
    return {}


def ready(addon: dict[str, Any] | None) -> bool:
    return bool(((addon or {}).get("status") or {}).get("ready"))


# ---------------------------------------------------------------------------- hook server
def serving_cert(directory: Path) -> tuple[Path, Path, bytes]:
    """A self-signed serving certificate for 127.0.0.1 (cert, key, CA bundle PEM)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "csops-addon-hooks")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_path, key_path = directory / "tls.crt", directory / "tls.key"
    cert_path.write_bytes(pem)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path, pem


@pytest.fixture(scope="session")
def hook_kube(control_plane: ControlPlane, mgmt: Kube) -> Iterator[Kube]:
    kube = Kube.from_kubeconfig(control_plane.kubeconfig_for("csops"), field_manager="csops-hooks")
    yield kube
    kube.close()
