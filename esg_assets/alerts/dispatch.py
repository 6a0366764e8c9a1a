"""Deliver alerts through the ledger to every configured channel.

`dispatch` records the new alerts as pending, then drains each channel's pending rows — new ones
and ones left over by earlier ticks — in its own thread, so a channel that hangs until its
timeout never delays the other. Each delivery gets a few attempts with backoff (tenacity), within a budget
that keeps the whole tick well under Dagster's sensor evaluation timeout (60 s); whatever is not
delivered stays pending for the next tick. Nothing here raises on a channel failure: it logs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import tenacity

from esg_assets.alerts.email_channel import EmailChannel
from esg_assets.alerts.ledger import AlertLedger, Delivery
from esg_assets.alerts.model import Alert, Channel, ChannelError
from esg_assets.alerts.pagerduty_channel import PagerDutyChannel
from esg_assets.settings import AlertSettings

DEFAULT_ATTEMPTS = 3
DEFAULT_BACKOFF_SECONDS = 1.0
DEFAULT_BUDGET_SECONDS = 40.0

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts per delivery within a tick, exponential backoff, and the tick's time budget."""

    attempts: int = DEFAULT_ATTEMPTS
    backoff_seconds: float = DEFAULT_BACKOFF_SECONDS
    budget_seconds: float = DEFAULT_BUDGET_SECONDS
    sleep: Callable[[float], None] = time.sleep


@dataclass
class DispatchReport:
    """What one dispatch did: `sent` and `pending` as (dedup_key, channel) pairs."""

    recorded: list[tuple[str, str]] = field(default_factory=list)
    sent: list[tuple[str, str]] = field(default_factory=list)
    pending: list[tuple[str, str]] = field(default_factory=list)

    def describe(self) -> str:
        return f"{len(self.recorded)} new, {len(self.sent)} sent, {len(self.pending)} pending"


def build_channels(settings: AlertSettings, *, verify: str | bool = True) -> list[Channel]:
    """The configured channels: e-mail when ESG_ALERT_EMAIL_TO is set, PagerDuty when the
    routing key is set. An empty list is legal (alerts are then only recorded)."""
    channels: list[Channel] = []
    if settings.email_enabled:
        channels.append(EmailChannel(settings, verify=verify))
    if settings.pagerduty_enabled:
        channels.append(PagerDutyChannel(settings, verify=verify))
    return channels


def dispatch(
    alerts: Sequence[Alert],
    ledger: AlertLedger,
    channels: Sequence[Channel],
    *,
    policy: RetryPolicy | None = None,
    log: logging.Logger | logging.LoggerAdapter | None = None,
) -> DispatchReport:
    """Record `alerts` and deliver everything pending on `channels`; never raises for a channel."""
    policy = policy or RetryPolicy()
    log = log or _log
    report = DispatchReport()
    names = [c.name for c in channels]
    for alert in alerts:
        for channel in ledger.record(alert, names):
            report.recorded.append((alert.dedup_key, channel))
            log.info(f"alert {alert.dedup_key} queued for {channel}: {alert.summary}")
    if not channels:
        return report
    deadline = time.monotonic() + policy.budget_seconds
    with ThreadPoolExecutor(max_workers=len(channels), thread_name_prefix="esg-alert") as pool:
        futures = [pool.submit(_drain, ch, ledger, policy, deadline, log) for ch in channels]
        for future in futures:
            sent, pending = future.result()  # _drain catches everything a channel can raise
            report.sent += sent
            report.pending += pending
    return report


def _drain(
    channel: Channel,
    ledger: AlertLedger,
    policy: RetryPolicy,
    deadline: float,
    log: logging.Logger | logging.LoggerAdapter,
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    sent: list[tuple[str, str]] = []
    pending: list[tuple[str, str]] = []
    try:
        deliveries = ledger.claim(channel.name)
    except Exception as err:  # a locked or broken ledger must not take the sensor down
        log.error(f"alert ledger unavailable for {channel.name}: {type(err).__name__}: {err}")
        return sent, pending
    down = False
    for delivery in deliveries:
        key = (delivery.alert.dedup_key, channel.name)
        if down:
            # One alert already exhausted its attempts: the channel is down, don't spend the
            # tick's budget on the rest; release them for the next tick.
            ledger.mark_failed(delivery.alert, channel.name, 0, "channel down in this tick")
            pending.append(key)
        else:
            ok, retryable = _deliver(channel, delivery, ledger, policy, deadline, log)
            (sent if ok else pending).append(key)
            down = not ok and retryable
    return sent, pending


def _deliver(
    channel: Channel,
    delivery: Delivery,
    ledger: AlertLedger,
    policy: RetryPolicy,
    deadline: float,
    log: logging.Logger | logging.LoggerAdapter,
) -> tuple[bool, bool]:
    """Try one delivery; return (delivered, last failure was retryable).

    tenacity runs the attempts: at most `policy.attempts`, exponential backoff from
    `policy.backoff_seconds`, no retry of a final answer (ChannelError.retryable False), and no
    pause that would end past the tick's deadline. Every failed attempt is logged."""
    alert = delivery.alert
    attempts = 0

    def send_once() -> None:
        nonlocal attempts
        attempts += 1
        try:
            channel.send(alert)
        except ChannelError as err:
            failure = err
        except Exception as err:  # a bug in a channel is still only that channel's failure
            failure = ChannelError(f"{type(err).__name__}: {err}")
        else:
            return
        log.warning(f"alert {alert.dedup_key} via {channel.name}, attempt {attempts} failed: {failure}")
        raise failure

    def past_deadline(state: tenacity.RetryCallState) -> bool:
        return time.monotonic() + state.upcoming_sleep >= deadline

    error, retryable = "out of time in this tick", True
    if time.monotonic() < deadline:
        try:
            tenacity.Retrying(
                stop=tenacity.stop_after_attempt(policy.attempts) | past_deadline,
                wait=tenacity.wait_exponential(multiplier=policy.backoff_seconds, min=0),
                retry=tenacity.retry_if_exception(lambda e: isinstance(e, ChannelError) and e.retryable),
                sleep=policy.sleep,
                reraise=True,
            )(send_once)
        except ChannelError as err:
            error, retryable = str(err), err.retryable
        else:
            ledger.mark_sent(alert, channel.name, attempts)
            log.info(f"alert {alert.dedup_key} sent via {channel.name} (attempt {attempts})")
            return True, False
    ledger.mark_failed(alert, channel.name, attempts, error)
    log.error(f"alert {alert.dedup_key} still pending on {channel.name} after {attempts} attempt(s): {error}")
    return False, retryable
