"""The trust of every outgoing TLS connection, built in one place for the GET transport, the
token POST and the alert channels (SMTP, PagerDuty) alike.

configuration.md, "Upstream": `ESG_CA_BUNDLE` is an *extra* CA bundle, the default is the
*system store*. So the context starts from the system store (OpenSSL's default verify paths,
which honour SSL_CERT_FILE / SSL_CERT_DIR) and adds the bundle on top, never instead of it;
certifi's bundle (what `requests` trusts with verify=True) is not the system store and is not
used. Certificate and hostname checks stay on; TLS 1.2 at least.
"""

from __future__ import annotations

import ssl
import threading

import requests
from requests.adapters import HTTPAdapter


def upstream_context(ca_bundle: str | None) -> ssl.SSLContext:
    """A client context trusting the system store, plus `ca_bundle` (a PEM file) when given.

    Built per session rather than once per process: the system store is read when the context
    is made, so a store updated between runs is seen by the next run."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)  # system store, CERT_REQUIRED, hostnames
    context.minimum_version = max(context.minimum_version, ssl.TLSVersion.TLSv1_2)
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    return context


class TrustContexts:
    """The contexts of one consumer (the GET transport, the token POST's adapter), one per
    `verify` value (`UpstreamSettings.verify`: ESG_CA_BUNDLE's path, or True for the system
    store alone), made on first use. Not shared between consumers: urllib3 sets options on the
    context it is handed."""

    def __init__(self) -> None:
        self._contexts: dict[str | bool, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def get(self, verify: str | bool) -> ssl.SSLContext:
        with self._lock:
            context = self._contexts.get(verify)
            if context is None:
                bundle = verify if isinstance(verify, str) else None
                context = self._contexts[verify] = upstream_context(bundle)
            return context


class TrustAdapter(HTTPAdapter):
    """requests' adapter verifying TLS against `upstream_context` (the system store, plus
    ESG_CA_BUNDLE) instead of requests' own trust (certifi's bundle, or the bundle alone)."""

    def __init__(self, **kwargs: object) -> None:
        self._trust = TrustContexts()
        super().__init__(**kwargs)  # type: ignore[arg-type]

    def build_connection_pool_key_attributes(self, request: requests.PreparedRequest, verify: str | bool,
                                             cert: object = None) -> tuple[dict, dict]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)  # type: ignore[arg-type]
        pool_kwargs.pop("ca_certs", None)
        pool_kwargs.pop("ca_cert_dir", None)
        pool_kwargs["ssl_context"] = self._trust.get(verify)
        return host_params, pool_kwargs

    def cert_verify(self, conn: object, url: str, verify: str | bool, cert: object) -> None:
        """requests would load its bundle into the context on every connection: the context
        already holds the whole trust, so no file is named to urllib3 here."""
        super().cert_verify(conn, url, verify, cert)  # type: ignore[arg-type]
        conn.ca_certs = conn.ca_cert_dir = None  # type: ignore[attr-defined]
