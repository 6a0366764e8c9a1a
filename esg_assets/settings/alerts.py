"""configuration.md, "Alerts": e-mail over SMTP and PagerDuty."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from esg_assets.settings.env import ConfigError, Env, Secret, scrub_secrets


@dataclass(frozen=True)
class AlertSettings:
    email_to: tuple[str, ...]
    smtp_host: str | None
    smtp_port: int
    smtp_user: str | None
    smtp_password: Secret
    smtp_starttls: bool
    email_from: str | None
    pagerduty_routing_key: Secret
    pagerduty_events_url: str

    @property
    def email_enabled(self) -> bool:
        return bool(self.email_to)

    @property
    def pagerduty_enabled(self) -> bool:
        return bool(self.pagerduty_routing_key)


@scrub_secrets
def load_alerts(env: Mapping[str, str] | None = None) -> AlertSettings:
    e = Env(os.environ if env is None else env)
    email_to = e.csv_list("ESG_ALERT_EMAIL_TO")
    smtp_host = e.raw("ESG_SMTP_HOST")
    email_from = e.raw("ESG_ALERT_EMAIL_FROM")
    if email_to and smtp_host is None:
        raise ConfigError("ESG_SMTP_HOST is required when ESG_ALERT_EMAIL_TO is set")
    if email_to and email_from is None:
        raise ConfigError("ESG_ALERT_EMAIL_FROM is required when ESG_ALERT_EMAIL_TO is set")
    return AlertSettings(
        email_to=email_to,
        smtp_host=smtp_host,
        smtp_port=int(e.number("ESG_SMTP_PORT", 587, integer=True, minimum=1, maximum=65535)),
        smtp_user=e.raw("ESG_SMTP_USER"),
        smtp_password=Secret(e.raw("ESG_SMTP_PASSWORD") or ""),
        smtp_starttls=e.boolean("ESG_SMTP_STARTTLS", True),
        email_from=email_from,
        pagerduty_routing_key=Secret(e.raw("ESG_PAGERDUTY_ROUTING_KEY") or ""),
        pagerduty_events_url=e.url(  # type: ignore[arg-type]
            "ESG_PAGERDUTY_EVENTS_URL",
            required=False,
            default="https://events.pagerduty.com/v2/enqueue",
        ),
    )
