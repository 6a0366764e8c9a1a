"""The retry policy of every upstream call, in one place (upstream-apis.yaml x-client-behaviour).

What is retryable, how long to wait, and how many attempts: the ESG API, the AMS pages and the
token endpoint all use `retrying()`, built from the settings by `retrying_from()`.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TypeVar

from esg_assets.domain.models import AttemptFailure, ErrorKind
from esg_assets.settings import UpstreamSettings

T = TypeVar("T")

# Answers that stop at once (401 is handled by the token rule, not here).
_NOT_RETRYABLE_5XX = frozenset({501, 505})


def classify_status(status: int, retry_after: float | None = None) -> AttemptFailure:
    """The failure an HTTP status (other than 200 and 401) stands for, and whether to retry it."""
    if status == 429:
        return AttemptFailure(ErrorKind.RATE_LIMITED, status, "HTTP 429 rate limited", True, retry_after)
    if status == 503:  # RFC 9110 lets a 503 carry Retry-After too; the same ceiling applies
        return AttemptFailure(ErrorKind.HTTP_STATUS, status, "HTTP 503", True, retry_after)
    if status == 404:
        return AttemptFailure(ErrorKind.NOT_FOUND, status, "HTTP 404 account not covered", False)
    if status == 403:
        return AttemptFailure(ErrorKind.FORBIDDEN, status, "HTTP 403 access to account refused", False)
    retryable = status == 408 or (500 <= status <= 599 and status not in _NOT_RETRYABLE_5XX)
    return AttemptFailure(ErrorKind.HTTP_STATUS, status, f"HTTP {status}", retryable)


# Longer than any ceiling (ESG_API_RETRY_AFTER_MAX_SECONDS is at most an hour): a Retry-After of
# 10**400 seconds is read as this, never as a float that overflows.
_FAR_FUTURE_SECONDS = 10.0**9
_DELTA_SECONDS = re.compile(r"[0-9]+")  # ASCII digits only: "²".isdigit() is True


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After in seconds, given as delta-seconds or an HTTP-date; None when absent,
    unparseable or negative (the contract: counts as absent). Never raises, whatever the text."""
    if value is None:
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        digits = value.lstrip("0") or "0"
        return float(digits) if len(digits) <= 10 else _FAR_FUTURE_SECONDS
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        current = now or datetime.now(timezone.utc)
        seconds = (when - current).total_seconds()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return min(max(0.0, seconds), _FAR_FUTURE_SECONDS)


def backoff_seconds(attempt: int, base: float, cap: float, jitter: Callable[[], float] = random.random) -> float:
    """Exponential backoff after attempt number `attempt` (1-based): base, 2*base, 4*base ...

    Equal jitter: half the step fixed, half random, so retries of many accounts spread out but
    never collapse to zero; the result never exceeds `cap`.
    """
    step = min(cap, base * (2 ** (attempt - 1)))
    return step / 2 + jitter() * step / 2


def wait_after(attempt: int, result: object, base: float, cap: float) -> float:
    """The wait after attempt number `attempt`: backoff with jitter, but never shorter than the
    failure's Retry-After (a 429 or 503 that carried one)."""
    wait = backoff_seconds(attempt, base, cap)
    if isinstance(result, AttemptFailure) and result.retry_after is not None:
        wait = max(wait, result.retry_after)
    return wait


class RetryStopped(Exception):
    """The run is stopping (terminated, or a critical error elsewhere): no further attempt."""


def stoppable_sleep(stop: threading.Event) -> Callable[[float], None]:
    """A backoff sleep that ends at once, raising RetryStopped, when `stop` is set: a run being
    terminated must not sit out backoffs of up to ESG_API_BACKOFF_MAX_SECONDS first."""

    def sleep(seconds: float) -> None:
        if stop.wait(seconds):
            raise RetryStopped

    return sleep


def beyond_ceiling(result: object, retry_after_max: float) -> bool:
    """A failure whose Retry-After is longer than the job waits out: its attempts end now."""
    return isinstance(result, AttemptFailure) and result.retry_after is not None and result.retry_after > retry_after_max


class Attempts:
    """The attempts of one call: the attempt function returns a result or an AttemptFailure.

    Retryable failures are retried up to `max_attempts` in total; the last result (success or
    the last failure) is returned. A Retry-After above `retry_after_max`
    (ESG_API_RETRY_AFTER_MAX_SECONDS) is not waited out: that failure is the last. So no wait
    is ever longer than max(cap, retry_after_max). Exceptions (authentication) are never
    retried here. A plain loop rather than tenacity's controller, whose state objects around
    every attempt were 7 % of the fetch's CPU per account (docs/benchmarks.md)."""

    def __init__(self, max_attempts: int, base: float, cap: float, sleep: Callable[[float], None],
                 retry_after_max: float) -> None:
        self._max_attempts = max_attempts
        self._base = base
        self._cap = cap
        self._sleep = sleep
        self._retry_after_max = retry_after_max

    def __call__(self, attempt: Callable[[], T]) -> T:
        number = 1
        while True:
            result = attempt()
            if number >= self._max_attempts or not self._retryable(result):
                return result
            self._sleep(wait_after(number, result, self._base, self._cap))
            number += 1

    def _retryable(self, result: object) -> bool:
        return (isinstance(result, AttemptFailure) and result.retryable
                and not beyond_ceiling(result, self._retry_after_max))


def retrying(
    max_attempts: int,
    base: float,
    cap: float,
    sleep: Callable[[float], None] = time.sleep,
    retry_after_max: float = 120.0,
) -> Attempts:
    """The attempts controller (`Attempts`) of these settings."""
    return Attempts(max_attempts, base, cap, sleep, retry_after_max)


def retrying_from(settings: UpstreamSettings, sleep: Callable[[float], None] = time.sleep) -> Attempts:
    """`retrying()` with ESG_API_MAX_ATTEMPTS, the backoff base and cap and the Retry-After
    ceiling of the settings: every client gets its controller here, so a new retry setting is
    passed in one place."""
    s = settings
    return retrying(s.max_attempts, s.backoff_base_seconds, s.backoff_max_seconds, sleep, s.retry_after_max_seconds)
