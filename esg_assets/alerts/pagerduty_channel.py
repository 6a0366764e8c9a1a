"""PagerDuty channel: Events API v2 `trigger` events (and `resolve` events for a recovered day),
POSTed with `requests`, trusting what the upstream clients trust (`resources/tls.py`: the system
store, plus ESG_CA_BUNDLE), not requests' certifi bundle.

The dedup key `esg-ratings/<partition>/<kind>` makes PagerDuty fold a resend of the same incident
into the open one, a second line of defence behind the ledger. The routing key travels only in
the request body to PagerDuty; it never appears in an exception message or a log line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from esg_assets.clock import utc_text
from esg_assets.alerts.model import SOURCE, Alert, AlertKind, Channel, ChannelError
from esg_assets.resources.tls import TrustAdapter
from esg_assets.settings import AlertSettings

DEFAULT_TIMEOUT = (5.0, 10.0)  # (connect, read) seconds


def event_body(alert: Alert, routing_key: str) -> dict[str, Any]:
    """The Events API v2 JSON for `alert` (docs/spec.md#alerts, field by field)."""
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": alert.dedup_key,
        "payload": {
            "summary": f"{alert.kind.value} {alert.partition}: {alert.summary}",
            "source": SOURCE,
            "severity": alert.severity,
            "timestamp": utc_text(alert.occurred_at),
            "component": alert.component,
            "class": alert.kind.value,
            "custom_details": {"partition": alert.partition, **_plain(alert.details)},
        },
    }


def resolve_bodies(alert: Alert, routing_key: str) -> list[dict[str, Any]]:
    """One `resolve` per kind a `resolved` alert names, with that kind's dedup key (docs/spec.md#alert-resolution)."""
    return [{"routing_key": routing_key, "event_action": "resolve", "dedup_key": f"{SOURCE}/{alert.partition}/{kind}"}
            for kind in alert.resolves]


def _plain(details: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in details.items()}


class PagerDutyChannel(Channel):
    """POSTs one trigger event per alert; 2xx is delivered, 429/5xx/network errors are retried."""

    name = "pagerduty"

    def __init__(
        self,
        settings: AlertSettings,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        verify: str | bool = True,
    ):
        if not settings.pagerduty_enabled:
            raise ValueError("the PagerDuty channel needs ESG_PAGERDUTY_ROUTING_KEY")
        self._url = settings.pagerduty_events_url
        self._key = settings.pagerduty_routing_key
        self._timeout = timeout
        self._verify = verify

    def send(self, alert: Alert) -> None:
        """Deliver one alert; a `resolved` one is a resolve per kind (resending one that got
        through is harmless: PagerDuty ignores a resolve of a resolved incident)."""
        if alert.kind == AlertKind.RESOLVED:
            for body in resolve_bodies(alert, self._key.value):
                self._post(body)
            return
        self._post(event_body(alert, self._key.value))

    def _post(self, body: dict[str, Any]) -> None:
        try:
            # What requests.post does (a session per call, no retries), with the project's trust.
            with requests.Session() as session:
                session.mount("https://", TrustAdapter())
                resp = session.post(self._url, json=body, timeout=self._timeout, verify=self._verify)
        except requests.RequestException as err:
            # requests' messages hold the URL (no secret: the key is in the body), not the body.
            raise ChannelError(f"PagerDuty {self._url}: {type(err).__name__}") from None
        if 200 <= resp.status_code < 300:
            return
        retryable = resp.status_code == 429 or resp.status_code >= 500
        # PagerDuty's error body names the problem ("Invalid routing key") without echoing it.
        excerpt = " ".join(resp.text.split())[:200]
        if self._key.value:
            excerpt = excerpt.replace(self._key.value, "***")  # belt and braces
        raise ChannelError(f"PagerDuty answered HTTP {resp.status_code}: {excerpt}", retryable=retryable)
