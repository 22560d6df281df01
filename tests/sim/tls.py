"""Certificate authority and server certificate for the simulator's HTTPS endpoint.

Clients trust the simulator the standard way (SSL_CERT_FILE / REQUESTS_CA_BUNDLE or `connection_verify=`), so we
write a CA bundle that also keeps the system's CAs: other TLS in the same process keeps working.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT = "ca.pem"
CA_KEY = "ca-key.pem"
BUNDLE = "ca-bundle.pem"


@dataclass(frozen=True)
class TlsMaterial:
    ca_file: str  # the simulator CA alone
    bundle_file: str  # system CAs + simulator CA: what SSL_CERT_FILE / REQUESTS_CA_BUNDLE point at
    server_cert_file: str
    server_key_file: str

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.server_cert_file, self.server_key_file)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "promptflow-netiso simulator"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _load_or_create_ca(directory: Path) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    cert_path, key_path = directory / CA_CERT, directory / CA_KEY
    if cert_path.exists() and key_path.exists():  # reuse: a demo operator keeps trusting restarts of the simulator
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        return key, x509.load_pem_x509_certificate(cert_path.read_bytes())  # type: ignore[return-value]
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("promptflow-netiso simulator CA"))
        .issuer_name(_name("promptflow-netiso simulator CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(key_path, _pem_key(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


def _server_cert(ca_key, ca_cert: x509.Certificate, hosts: list[str]) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    sans: list[x509.GeneralName] = []
    for host in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _system_ca_pem() -> bytes:
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and os.path.isfile(candidate):
            return Path(candidate).read_bytes()
    try:
        import certifi

        return Path(certifi.where()).read_bytes()
    except ImportError:  # no system bundle and no certifi: the bundle then trusts the simulator only
        return b""


def create_tls_material(directory: str | os.PathLike, ca_dir: str | os.PathLike | None = None,
                        hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> TlsMaterial:
    """Blocking (key generation, file writes): call it in a worker thread from async code."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    ca_home = Path(ca_dir) if ca_dir else out
    ca_home.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = _load_or_create_ca(ca_home)
    key, cert = _server_cert(ca_key, ca_cert, list(hosts))
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    (out / CA_CERT).write_bytes(ca_pem)
    system = _system_ca_pem()
    (out / BUNDLE).write_bytes(system + (b"\n" if system and not system.endswith(b"\n") else b"") + ca_pem)
    # The chain (leaf + CA) lets clients that only trust the CA validate without AIA fetching.
    (out / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM) + ca_pem)
    _write_private(out / "server-key.pem", _pem_key(key))
    return TlsMaterial(str(out / CA_CERT), str(out / BUNDLE), str(out / "server.pem"), str(out / "server-key.pem"))
