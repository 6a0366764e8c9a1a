"""The alert channels trust what the upstream clients trust (configuration.md, `ESG_CA_BUNDLE`:
an *extra* CA bundle, default the system store): the system store (SSL_CERT_FILE, pointed at a
throwaway CA1), plus the bundle (CA2) on top of it, never instead; CA3 is trusted by neither.
The real channels against real loopback servers: a PagerDuty stand-in over HTTPS and an aiosmtpd
server requiring STARTTLS, each with a certificate signed by one of the CAs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest

from esg_assets.alerts import Alert, AlertKind, ChannelError, EmailChannel, PagerDutyChannel
from esg_assets_tests.support.alerting import alert_settings, free_port, start_pagerduty, start_smtp
from esg_assets_tests.support.tls import Signed, signed_cas, use_as_system_store

pytestmark = pytest.mark.integration

ALERT = Alert(AlertKind.RUN_FAILED, "2026-11-27", "run 1a2b3c4d of 2026-11-27 failed", {"run_id": "1a2b3c4d"},
              component="esg_ratings", occurred_at=datetime(2026, 11, 27, 14, 5, 7, tzinfo=UTC))
# (server's CA, ESG_CA_BUNDLE, accepted?)
CASES = [("ca1", None, True), ("ca1", "ca2", True), ("ca2", "ca2", True), ("ca3", None, False), ("ca3", "ca2", False)]


@pytest.fixture(scope="module")
def cas(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Signed]:
    return signed_cas(tmp_path_factory.mktemp("channel-cas"))


@pytest.fixture(autouse=True)
def system_store_ca1(cas: dict[str, Signed], monkeypatch: pytest.MonkeyPatch) -> None:
    use_as_system_store(cas["ca1"], monkeypatch)


def _verify(cas: dict[str, Signed], bundle: str | None) -> str | bool:
    """What `build_channels` is handed: ESG_CA_BUNDLE's path, or True for the system store."""
    return str(cas[bundle].ca) if bundle else True


@contextmanager
def _pagerduty(signed: Signed) -> Iterator[tuple[list[dict], str]]:
    state, server = start_pagerduty(tls=signed.server_context())
    try:
        yield state.events, state.url
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("server_ca", "bundle", "accepted"), CASES)
def test_pagerduty_trusts_the_system_store_plus_the_bundle(cas: dict[str, Signed], server_ca: str,
                                                           bundle: str | None, accepted: bool) -> None:
    with _pagerduty(cas[server_ca]) as (events, url):
        channel = PagerDutyChannel(alert_settings(free_port(), url), verify=_verify(cas, bundle))
        if accepted:
            channel.send(ALERT)
            assert [e["dedup_key"] for e in events] == ["esg-ratings/2026-11-27/run_failed"]
        else:
            with pytest.raises(ChannelError, match=r"^PagerDuty https://127\.0\.0\.1:\d+/v2/enqueue: SSLError$"):
                channel.send(ALERT)
            assert events == []


@pytest.mark.parametrize(("server_ca", "bundle", "accepted"), CASES)
def test_email_starttls_trusts_the_system_store_plus_the_bundle(cas: dict[str, Signed], server_ca: str,
                                                                bundle: str | None, accepted: bool) -> None:
    server = start_smtp(free_port(), tls=cas[server_ca].server_context())
    try:
        settings = alert_settings(server.port, "http://127.0.0.1:9/v2/enqueue", ESG_SMTP_STARTTLS="true")
        channel = EmailChannel(settings, timeout=5, verify=_verify(cas, bundle))
        if accepted:
            channel.send(ALERT)
            assert [m.message["Subject"].strip() for m in server.sink.messages] == [ALERT.subject]
        else:
            with pytest.raises(ChannelError, match=r"^SMTP 127\.0\.0\.1:\d+: SSLCertVerificationError: "):
                channel.send(ALERT)
            assert server.sink.messages == []
    finally:
        server.controller.stop()
