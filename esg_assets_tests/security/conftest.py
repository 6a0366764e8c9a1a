"""Fixtures of the security tests: a test CA with a server certificate for 127.0.0.1/localhost
(and an unrelated CA), made by esg_assets_tests/support/tls.py."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization

from esg_assets_tests.support.tls import TlsFiles, make_ca, make_server_cert, pem


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A CA, a server certificate for 127.0.0.1 and localhost signed by it, and another CA."""
    base = tmp_path_factory.mktemp("tls")
    ca_key, ca = make_ca("ESG test CA")
    server_key, server = make_server_cert(ca_key, ca)
    _other_key, other = make_ca("Some other CA")
    files = TlsFiles(base / "ca.pem", base / "server.pem", base / "server.key", base / "other-ca.pem")
    files.ca_cert.write_bytes(pem(ca))
    files.server_cert.write_bytes(pem(server))
    files.server_key.write_bytes(server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    files.server_key.chmod(0o600)
    files.other_ca.write_bytes(pem(other))
    return files
