"""Credentials for a loopback control plane: CA, serving cert, service-account key, tokens.

Everything is written to one directory and reused when it is already there, so a dev cluster
keeps the same kubeconfig across restarts. One CA signs both the serving certificate and the
client certificates minted for extra users (``--client-ca-file``).
"""

from __future__ import annotations

import datetime
import ipaddress
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=365)
ADMIN_USER = "admin"
ADMIN_GROUP = "system:masters"
LOOPBACK_SANS: list[x509.GeneralName] = [
    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    x509.DNSName("localhost"),
]


@dataclass(frozen=True)
class Credentials:
    """Paths of the files the servers read, plus the admin bearer token."""

    directory: Path
    ca_cert: Path
    ca_key: Path
    serving_cert: Path
    serving_key: Path
    service_account_key: Path
    service_account_pub: Path
    token_file: Path
    admin_token: str

    @property
    def ca_pem(self) -> bytes:
        return self.ca_cert.read_bytes()

    def issue_client_cert(self, user: str, groups: tuple[str, ...] = ()) -> tuple[bytes, bytes]:
        """A client certificate (PEM cert, PEM key) for ``user`` in ``groups``, signed by the CA."""
        ca_key = serialization.load_pem_private_key(self.ca_key.read_bytes(), password=None)
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
        ca_cert = x509.load_pem_x509_certificate(self.ca_cert.read_bytes())
        key = ec.generate_private_key(ec.SECP256R1())
        attributes = [x509.NameAttribute(NameOID.COMMON_NAME, user)]
        attributes += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
        cert = (
            _builder(x509.Name(attributes), ca_cert.subject, key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_leaf_usage(), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
            .sign(ca_key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)

    def issue_serving_cert(self, common_name: str) -> tuple[bytes, bytes]:
        """A serving certificate for 127.0.0.1 and localhost (PEM cert, PEM key), signed by the CA.

        Webhook servers of the plane (Cluster API's managers) use it; the CA is their caBundle.
        """
        return _serving_pair(self.ca_key, self.ca_cert, common_name, LOOPBACK_SANS)


def ensure_credentials(directory: Path) -> Credentials:
    """Load the credentials in ``directory``, generating whatever is missing."""
    directory.mkdir(parents=True, exist_ok=True)
    creds = Credentials(
        directory=directory,
        ca_cert=directory / "ca.crt",
        ca_key=directory / "ca.key",
        serving_cert=directory / "apiserver.crt",
        serving_key=directory / "apiserver.key",
        service_account_key=directory / "sa.key",
        service_account_pub=directory / "sa.pub",
        token_file=directory / "tokens.csv",
        admin_token=_ensure_token(directory / "admin.token"),
    )
    if not (creds.ca_cert.is_file() and creds.ca_key.is_file()):
        _write_ca(creds)
        creds.serving_cert.unlink(missing_ok=True)
    if not (creds.serving_cert.is_file() and creds.serving_key.is_file()):
        _write_serving(creds)
    if not (creds.service_account_key.is_file() and creds.service_account_pub.is_file()):
        _write_service_account_key(creds)
    _write_private(
        creds.token_file, f"{creds.admin_token},{ADMIN_USER},{ADMIN_USER},{ADMIN_GROUP}\n".encode()
    )
    return creds


def _ensure_token(path: Path) -> str:
    if path.is_file():
        return path.read_text().strip()
    token = secrets.token_urlsafe(32)
    _write_private(path, token.encode())
    return token


def _write_private(path: Path, data: bytes) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_bytes(data)


def _key_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
    )


def _leaf_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=True,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _write_ca(creds: Credentials) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "csops-control-plane-ca"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "csops"),
        ]
    )
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    cert = (
        _builder(name, name, key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    _write_private(creds.ca_key, _key_pem(key))
    creds.ca_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _serving_pair(
    ca_key_path: Path, ca_cert_path: Path, common_name: str, sans: list[x509.GeneralName]
) -> tuple[bytes, bytes]:
    ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    ca_cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]),
            ca_cert.subject,
            key.public_key(),
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_leaf_usage(), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def _write_serving(creds: Credentials) -> None:
    sans = [
        *LOOPBACK_SANS,
        x509.DNSName("kubernetes"),
        x509.DNSName("kubernetes.default"),
        x509.DNSName("kubernetes.default.svc"),
    ]
    cert, key = _serving_pair(creds.ca_key, creds.ca_cert, "kube-apiserver", sans)
    _write_private(creds.serving_key, key)
    creds.serving_cert.write_bytes(cert)


def _write_service_account_key(creds: Credentials) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_private(creds.service_account_key, _key_pem(key))
    creds.service_account_pub.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
