"""ESG_CA_BUNDLE is an *extra* bundle on top of the system store (configuration.md, "Upstream":
default "system store"), for the ESG GETs (the http.client transport) and the token POST
(requests) alike. The system store is OpenSSL's default verify file, pointed here at a throwaway
CA1 with SSL_CERT_FILE; ESG_CA_BUNDLE names CA2; CA3 is trusted by neither. Each server is a
real TLS loopback server (the hostile upstream) with a certificate made by `cryptography`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from esg_assets.resources.clients import UpstreamClients
from esg_assets.resources.http import TlsVerificationError
from esg_assets.settings import ConfigError, load_upstream
from esg_assets_tests.support.hostile_clients import clients
from esg_assets_tests.hostile.server import Answer, Hostile, always
from esg_assets_tests.support.tls import Signed, signed_cas, use_as_system_store
from esg_assets_tests.security.test_tls_critical import ANALYSIS


@pytest.fixture(scope="module")
def cas(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Signed]:
    return signed_cas(tmp_path_factory.mktemp("three-cas"))


@pytest.fixture
def system_store_ca1(cas: dict[str, Signed], monkeypatch: pytest.MonkeyPatch) -> None:
    use_as_system_store(cas["ca1"], monkeypatch)


def _upstream(signed: Signed) -> Hostile:
    return Hostile(analysis=always(Answer(200, ANALYSIS)), tls=(signed.cert, signed.key))


@contextmanager
def _clients(token: Hostile, esg: Hostile, bundle: Path | None) -> Iterator[UpstreamClients]:
    """The job's clients: token endpoint and AMS on `token`, the ESG API on `esg`."""
    extra = {"ESG_API_BASE_URL": esg.env()["ESG_API_BASE_URL"]}
    if bundle is not None:
        extra["ESG_CA_BUNDLE"] = str(bundle)
    with clients(token, **extra) as up:
        yield up


def _verifies(token: Hostile, esg: Hostile, bundle: Path | None) -> None:
    """One token POST to `token` and one analysis GET from `esg`, both over verified TLS."""
    with _clients(token, esg, bundle) as up:
        assert up.esg.fetch_analysis("A1").account_id == "A1"  # type: ignore[union-attr]
    assert token.count("token") == 1 and esg.count("analysis") == 1


@pytest.mark.usefixtures("system_store_ca1")
def test_without_the_variable_the_system_store_verifies(cas: dict[str, Signed]) -> None:
    one = _upstream(cas["ca1"])
    with one.running():
        _verifies(one, one, None)


@pytest.mark.usefixtures("system_store_ca1")
@pytest.mark.parametrize(("token_ca", "esg_ca"), [("ca1", "ca2"), ("ca2", "ca1")])
def test_the_bundle_is_trusted_in_addition_to_the_system_store(cas: dict[str, Signed], token_ca: str,
                                                               esg_ca: str) -> None:
    token, esg = _upstream(cas[token_ca]), _upstream(cas[esg_ca])
    with token.running(), esg.running():
        _verifies(token, esg, cas["ca2"].ca)


@pytest.mark.usefixtures("system_store_ca1")
@pytest.mark.parametrize("bundle", [None, "ca2"])
def test_a_third_ca_is_still_the_critical_tls_error(cas: dict[str, Signed], bundle: str | None) -> None:
    trusted, untrusted = _upstream(cas["ca1"]), _upstream(cas["ca3"])
    ca_bundle = cas[bundle].ca if bundle else None
    with ExitStack() as servers:
        for server in (trusted, untrusted):
            servers.enter_context(server.running())
        host = untrusted.env()["ESG_API_BASE_URL"].split("//")[1].split("/")[0]
        # The ESG GET (the token from a trusted endpoint) ...
        with _clients(trusted, untrusted, ca_bundle) as up:
            with pytest.raises(TlsVerificationError, match=f"^TLS certificate verification failed for {host}$"):
                up.esg.fetch_analysis("A1")
        # ... and the token POST.
        with _clients(untrusted, trusted, ca_bundle) as up:
            with pytest.raises(TlsVerificationError, match=f"^TLS certificate verification failed for {host}$"):
                up.esg.fetch_analysis("A1")
    assert untrusted.count("token") == 0 and untrusted.count("analysis") == 0
    assert trusted.count("token") == 1 and trusted.count("analysis") == 0


@pytest.mark.parametrize("content", [b"not a certificate\n", b""])
def test_a_bundle_without_a_certificate_is_one_line_at_start(tmp_path: Path, content: bytes) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(content)
    env = {"ESG_AUTH_TOKEN_URL": "https://127.0.0.1:9/token", "ESG_CLIENT_ID": "id", "ESG_CLIENT_SECRET": "secret",
           "ESG_AMS_BASE_URL": "https://127.0.0.1:9/ams", "ESG_API_BASE_URL": "https://127.0.0.1:9/esg",
           "ESG_CA_BUNDLE": str(bundle)}
    with pytest.raises(ConfigError) as info:
        load_upstream(env)
    assert str(info.value) == f"ESG_CA_BUNDLE names {str(bundle)!r}, which holds no PEM CA certificate"
