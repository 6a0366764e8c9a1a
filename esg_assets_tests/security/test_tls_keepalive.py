"""HTTPS through the GET transport: verified against ESG_CA_BUNDLE's CA, one TLS connection
kept alive across requests (no handshake per request), another CA refused as a TLS error."""

from __future__ import annotations

import ssl

import pytest
import requests

from esg_assets.resources.http import make_session, send_get
from esg_assets_tests.resources.test_transport import serving
from esg_assets_tests.support.tls import TlsFiles


def _server_context(tls_files: TlsFiles) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(tls_files.server_cert), str(tls_files.server_key))
    return context


def test_https_keeps_one_verified_connection_alive(tls_files: TlsFiles) -> None:
    with serving(_server_context(tls_files)) as server:
        session = make_session(2)
        url = f"https://127.0.0.1:{server.server_address[1]}/a"
        for _ in range(5):
            assert send_get(session, url, None, {}, 2.0, str(tls_files.ca_cert)).json() == {"ok": True}
        session.close()
    assert len(server.connections) == 1


def test_https_signed_by_another_ca_is_a_tls_error(tls_files: TlsFiles) -> None:
    with serving(_server_context(tls_files)) as server:
        session = make_session(2)
        with pytest.raises(requests.exceptions.SSLError):
            send_get(session, f"https://127.0.0.1:{server.server_address[1]}/a", None, {}, 2.0, str(tls_files.other_ca))
        session.close()
