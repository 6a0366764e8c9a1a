"""Fixtures of the alert tests: a real SMTP server (aiosmtpd) and a PagerDuty Events API
stand-in (http.server), both on loopback (esg_assets_tests/support/alerting.py), plus settings
and a ledger pointing at them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from esg_assets.alerts import AlertLedger
from esg_assets.settings import AlertSettings
from esg_assets_tests.support.alerting import (
    PagerDutyStandIn, SmtpServer, alert_settings, free_port, start_pagerduty, start_smtp,
)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = start_smtp(free_port())
    yield server
    server.controller.stop()


@pytest.fixture
def pagerduty() -> Iterator[PagerDutyStandIn]:
    state, server = start_pagerduty()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def settings(smtp_server: SmtpServer, pagerduty: PagerDutyStandIn) -> AlertSettings:
    return alert_settings(smtp_server.port, pagerduty.url)


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return tmp_path / "home" / "esg_alerts.sqlite"


@pytest.fixture
def ledger(ledger_path: Path) -> AlertLedger:
    return AlertLedger(ledger_path)
