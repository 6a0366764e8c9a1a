"""Test certificates made with `cryptography`: a CA, a server certificate for 127.0.0.1 and
localhost signed by it, and an unrelated CA (verification must fail with it); throwaway CAs
with their server's files, and one of them made the "system store" (SSL_CERT_FILE)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
import pytest


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path  # PEM of the CA that signed the server certificate
    server_cert: Path
    server_key: Path
    other_ca: Path  # PEM of a CA that signed nothing here (verification must fail with it)


def name_of(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name_of(common_name)).issuer_name(name_of(common_name))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_server_cert(ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name_of("esg-sandbox")).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class Signed:
    ca: Path  # the CA's PEM
    cert: Path  # a server certificate for 127.0.0.1 signed by it
    key: Path

    def server_context(self) -> ssl.SSLContext:
        """A server-side context presenting this certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


def signed_cas(base: Path, names: tuple[str, ...] = ("ca1", "ca2", "ca3")) -> dict[str, Signed]:
    """One fresh CA per name, each with a server certificate it signed, as files under `base`."""
    out: dict[str, Signed] = {}
    for name in names:
        ca_key, ca = make_ca(f"ESG {name} test CA")
        key, cert = make_server_cert(ca_key, ca)
        signed = Signed(base / f"{name}.pem", base / f"{name}-server.pem", base / f"{name}-server.key")
        signed.ca.write_bytes(pem(ca))
        signed.cert.write_bytes(pem(cert))
        signed.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
        out[name] = signed
    return out


def use_as_system_store(signed: Signed, monkeypatch: pytest.MonkeyPatch) -> None:
    """The "system store" (OpenSSL's default verify file) is `signed.ca` alone; and that this is
    what the stdlib's default context trusts."""
    monkeypatch.setenv("SSL_CERT_FILE", str(signed.ca))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    assert ssl.get_default_verify_paths().cafile == str(signed.ca)
    assert ssl.create_default_context().get_ca_certs(binary_form=True) == [
        ssl.PEM_cert_to_DER_cert(signed.ca.read_text())]
