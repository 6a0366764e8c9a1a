"""The two channels against real loopback servers: an aiosmtpd SMTP server (recipients, subject,
From, body, no login without ESG_SMTP_USER, login with it) and a PagerDuty Events API v2
stand-in (the JSON field by field); then dispatch when one channel is down: the other is still
delivered, the pending one goes out on a later tick once it is back, and no secret is logged."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from esg_assets.alerts import (
    Alert, AlertKind, AlertLedger, ChannelError, EmailChannel, PagerDutyChannel, build_channels, dispatch,
)
from esg_assets_tests.support.alerting import (
    FAST, RECIPIENTS, ROUTING_KEY, SENDER, SMTP_PASSWORD, PagerDutyStandIn, SmtpServer, alert_settings, free_port, start_smtp,
)

pytestmark = pytest.mark.integration

WHEN = datetime(2026, 11, 27, 14, 5, 7, tzinfo=UTC)


def _alert(kind: AlertKind = AlertKind.RUN_FAILED, partition: str = "2026-11-27") -> Alert:
    return Alert(kind, partition, "run 1a2b3c4d of 2026-11-27 failed in step(s) esg_ratings",
                 {"run_id": "1a2b3c4d-0000", "failed_accounts": "ACC-0000017", "failed": 5},
                 component="esg_ratings", occurred_at=WHEN)


def test_email_one_message_to_all_recipients_without_login(settings, smtp_server: SmtpServer) -> None:
    EmailChannel(settings, timeout=5).send(_alert())

    [got] = smtp_server.sink.messages
    assert got.mail_from == SENDER
    assert got.rcpt_tos == list(RECIPIENTS)
    msg = got.message
    assert msg["Subject"] == "[ESG Ratings] run_failed 2026-11-27: run 1a2b3c4d of 2026-11-27 failed in step(s) esg_ratings"
    assert msg["From"] == SENDER
    assert [a.strip() for a in msg["To"].split(",")] == list(RECIPIENTS)
    body = msg.get_payload(decode=True).decode()
    for line in ("kind: run_failed", "partition: 2026-11-27", "severity: critical",
                 "run_id: 1a2b3c4d-0000", "failed_accounts: ACC-0000017", "failed: 5",
                 "dedup_key: esg-ratings/2026-11-27/run_failed", "occurred_at: 2026-11-27T14:05:07Z"):
        assert line in body
    assert ROUTING_KEY not in body and SMTP_PASSWORD not in body
    assert smtp_server.sink.logins == []


def test_email_logs_in_only_when_user_is_set(pagerduty: PagerDutyStandIn) -> None:
    server = start_smtp(free_port(), with_auth=True)
    try:
        settings = alert_settings(server.port, pagerduty.url, ESG_SMTP_USER="esg-bot",
                                  ESG_SMTP_PASSWORD=SMTP_PASSWORD)
        EmailChannel(settings, timeout=5).send(_alert())
        assert server.sink.logins == [("esg-bot", SMTP_PASSWORD)]
        assert len(server.sink.messages) == 1
    finally:
        server.controller.stop()


def test_email_starttls_required_but_not_offered_fails_instead_of_sending_plain(
    smtp_server: SmtpServer, pagerduty: PagerDutyStandIn
) -> None:
    settings = alert_settings(smtp_server.port, pagerduty.url, ESG_SMTP_STARTTLS="true")
    with pytest.raises(ChannelError):
        EmailChannel(settings, timeout=5).send(_alert())
    assert smtp_server.sink.messages == []


@pytest.mark.parametrize(("kind", "severity"), [
    (AlertKind.RUN_FAILED, "critical"), (AlertKind.WINDOW_EXCEEDED, "critical"),
    (AlertKind.MISSED_START, "error"), (AlertKind.FAILURE_THRESHOLD, "error"),
])
def test_pagerduty_event_field_by_field(settings, pagerduty: PagerDutyStandIn, kind: AlertKind, severity: str) -> None:
    PagerDutyChannel(settings).send(_alert(kind))

    [event] = pagerduty.events
    assert event.pop("_content_type") == "application/json"
    assert set(event) == {"routing_key", "event_action", "dedup_key", "payload"}
    assert event["routing_key"] == ROUTING_KEY
    assert event["event_action"] == "trigger"
    assert event["dedup_key"] == f"esg-ratings/2026-11-27/{kind.value}"
    payload = event["payload"]
    assert set(payload) == {"summary", "source", "severity", "timestamp", "component", "class", "custom_details"}
    assert payload["summary"] == f"{kind.value} 2026-11-27: run 1a2b3c4d of 2026-11-27 failed in step(s) esg_ratings"
    assert payload["source"] == "esg-ratings"
    assert payload["severity"] == severity
    assert payload["timestamp"] == "2026-11-27T14:05:07Z"
    assert payload["component"] == "esg_ratings"
    assert payload["class"] == kind.value
    assert payload["custom_details"] == {"partition": "2026-11-27", "run_id": "1a2b3c4d-0000",
                                         "failed_accounts": "ACC-0000017", "failed": 5}


def test_pagerduty_retries_a_server_error_within_the_tick(settings, pagerduty, ledger: AlertLedger) -> None:
    pagerduty.statuses = [503]
    channels = [PagerDutyChannel(settings)]
    report = dispatch([_alert()], ledger, channels, policy=FAST)
    assert report.sent == [("esg-ratings/2026-11-27/run_failed", "pagerduty")]
    assert len(pagerduty.events) == 1
    assert ledger.rows()[0]["attempts"] == 2


def test_one_channel_down_the_other_delivered_and_the_pending_one_later(
    pagerduty: PagerDutyStandIn, ledger: AlertLedger, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()  # nothing listens here yet: the SMTP server is "down"
    settings = alert_settings(port, pagerduty.url, ESG_SMTP_USER="esg-bot", ESG_SMTP_PASSWORD=SMTP_PASSWORD)
    channels = build_channels(settings)
    caplog.set_level(logging.INFO)

    first = dispatch([_alert()], ledger, channels, policy=FAST)

    assert first.sent == [("esg-ratings/2026-11-27/run_failed", "pagerduty")]
    assert first.pending == [("esg-ratings/2026-11-27/run_failed", "email")]
    assert ledger.status("2026-11-27", "run_failed") == {"email": "pending", "pagerduty": "sent"}
    assert any("email" in r.getMessage() and "attempt 3 failed" in r.getMessage() for r in caplog.records)

    server = start_smtp(port, with_auth=True)  # the relay is back
    try:
        second = dispatch([], ledger, build_channels(settings), policy=FAST)
        assert second.sent == [("esg-ratings/2026-11-27/run_failed", "email")]
        assert len(server.sink.messages) == 1
        assert len(pagerduty.events) == 1  # not sent twice on the channel that had worked
        assert ledger.status("2026-11-27", "run_failed") == {"email": "sent", "pagerduty": "sent"}
    finally:
        server.controller.stop()
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert ROUTING_KEY not in logged and SMTP_PASSWORD not in logged


def test_pagerduty_down_email_still_delivered(smtp_server: SmtpServer, ledger: AlertLedger) -> None:
    settings = alert_settings(smtp_server.port, f"http://127.0.0.1:{free_port()}/v2/enqueue")
    report = dispatch([_alert(AlertKind.MISSED_START)], ledger, build_channels(settings), policy=FAST)
    assert report.sent == [("esg-ratings/2026-11-27/missed_start", "email")]
    assert report.pending == [("esg-ratings/2026-11-27/missed_start", "pagerduty")]
    assert len(smtp_server.sink.messages) == 1
    assert ROUTING_KEY not in str(ledger.rows())


def test_channels_follow_the_settings(smtp_server: SmtpServer, pagerduty: PagerDutyStandIn) -> None:
    only_pd = alert_settings(smtp_server.port, pagerduty.url, ESG_ALERT_EMAIL_TO="")
    assert [c.name for c in build_channels(only_pd)] == ["pagerduty"]
    only_mail = alert_settings(smtp_server.port, pagerduty.url, ESG_PAGERDUTY_ROUTING_KEY="")
    assert [c.name for c in build_channels(only_mail)] == ["email"]


def test_both_channels_down_then_back_each_sent_once(
    ledger: AlertLedger, caplog: pytest.LogCaptureFixture
) -> None:
    """SMTP refuses connections and PagerDuty answers 503 during the alert: each is retried
    (FAST: 3 attempts) and logged, neither is marked sent; later ticks while they are still down
    change nothing; once both are back, one delivery each, and never again (a fresh ledger
    object: a restarted daemon)."""
    from esg_assets_tests.support.alerting import start_pagerduty

    smtp_port = free_port()
    pd, pd_server = start_pagerduty()
    pd.statuses = [503] * 6  # two ticks' worth of attempts
    settings = alert_settings(smtp_port, pd.url)
    caplog.set_level(logging.INFO)
    try:
        for _ in range(2):
            tick = dispatch([_alert()], ledger, build_channels(settings), policy=FAST)
            assert tick.sent == [] and sorted(tick.pending) == [
                ("esg-ratings/2026-11-27/run_failed", "email"), ("esg-ratings/2026-11-27/run_failed", "pagerduty")]
            assert ledger.status("2026-11-27", "run_failed") == {"email": "pending", "pagerduty": "pending"}
        for channel in ("email", "pagerduty"):
            assert sum(f"via {channel}, attempt" in r.getMessage() for r in caplog.records) == 6
            assert any(f"still pending on {channel}" in r.getMessage() for r in caplog.records)
        assert pd.events == [] and pd.statuses == []
        assert [r["attempts"] for r in ledger.rows()] == [6, 6]

        smtp = start_smtp(smtp_port)  # both are back
        try:
            back = dispatch([_alert()], ledger, build_channels(settings), policy=FAST)
            again = dispatch([_alert()], AlertLedger(ledger.path), build_channels(settings), policy=FAST)
            assert sorted(back.sent) == [("esg-ratings/2026-11-27/run_failed", "email"),
                                         ("esg-ratings/2026-11-27/run_failed", "pagerduty")]
            assert again.sent == [] and again.pending == []
            assert len(smtp.sink.messages) == 1 and len(pd.events) == 1
        finally:
            smtp.controller.stop()
    finally:
        pd_server.shutdown()
        pd_server.server_close()


def test_email_never_logs_in_without_tls_to_a_remote_host(pagerduty: PagerDutyStandIn) -> None:
    """Refused before any connection (the host need not even resolve): the password would
    travel in clear text. To a loopback host (the test above) a clear-text login is allowed."""
    settings = alert_settings(25, pagerduty.url, ESG_SMTP_HOST="smtp.example.invalid", ESG_SMTP_USER="esg-bot",
                              ESG_SMTP_PASSWORD=SMTP_PASSWORD, ESG_SMTP_STARTTLS="false")
    with pytest.raises(ChannelError, match="without TLS to smtp.example.invalid") as caught:
        EmailChannel(settings, timeout=5).send(_alert())
    assert not caught.value.retryable and SMTP_PASSWORD not in str(caught.value)
