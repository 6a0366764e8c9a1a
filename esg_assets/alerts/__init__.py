"""Operations alerts: the alert model, the e-mail and PagerDuty channels, the SQLite ledger that
makes each (partition, kind) go out at most once per channel, and `dispatch` tying them together.

Nothing here knows Dagster; the sensors that decide *when* to alert are in `esg_assets.sensors`.
"""

from esg_assets.alerts.dispatch import DispatchReport, RetryPolicy, build_channels, dispatch
from esg_assets.alerts.email_channel import EmailChannel
from esg_assets.alerts.ledger import AlertLedger, default_ledger_path
from esg_assets.alerts.model import SEVERITY, Alert, AlertKind, Channel, ChannelError
from esg_assets.alerts.pagerduty_channel import PagerDutyChannel, event_body

__all__ = [
    "SEVERITY", "Alert", "AlertKind", "AlertLedger", "Channel", "ChannelError", "DispatchReport",
    "EmailChannel", "PagerDutyChannel", "RetryPolicy", "build_channels", "default_ledger_path",
    "dispatch", "event_body",
]
