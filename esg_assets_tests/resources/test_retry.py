"""The retry policy: which answers are retried, how long to wait, how many attempts."""

from datetime import datetime, timezone

import pytest

from esg_assets.domain.models import AttemptFailure, ErrorKind
from esg_assets.resources.retry import backoff_seconds, classify_status, parse_retry_after, retrying


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 507, 599])
def test_retryable_statuses(status: int) -> None:
    assert classify_status(status).retryable


@pytest.mark.parametrize("status", [400, 403, 404, 409, 410, 422, 501, 505, 418])
def test_statuses_that_fail_at_once(status: int) -> None:
    assert not classify_status(status).retryable


@pytest.mark.parametrize(
    ("status", "kind"),
    [(429, ErrorKind.RATE_LIMITED), (404, ErrorKind.NOT_FOUND), (403, ErrorKind.FORBIDDEN),
     (503, ErrorKind.HTTP_STATUS), (400, ErrorKind.HTTP_STATUS), (501, ErrorKind.HTTP_STATUS)],
)
def test_error_kind_of_each_status(status: int, kind: ErrorKind) -> None:
    failure = classify_status(status)
    assert failure.kind is kind and failure.http_status == status


def test_retry_after_in_seconds_and_as_http_date() -> None:
    now = datetime(2026, 11, 27, 11, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("3", now) == 3.0
    assert parse_retry_after("Fri, 27 Nov 2026 11:00:05 GMT", now) == 5.0
    assert parse_retry_after("Fri, 27 Nov 2026 10:59:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    assert backoff_seconds(1, 1.0, 30.0, jitter=lambda: 1.0) == 1.0
    assert backoff_seconds(2, 1.0, 30.0, jitter=lambda: 1.0) == 2.0
    assert backoff_seconds(3, 1.0, 30.0, jitter=lambda: 0.0) == 2.0  # half of 4 at least
    assert backoff_seconds(10, 1.0, 30.0, jitter=lambda: 1.0) == 30.0


def test_retrying_stops_after_max_attempts_and_returns_the_last_failure() -> None:
    waits: list[float] = []
    outcomes = iter([classify_status(503), AttemptFailure(ErrorKind.TIMEOUT, None, "read timeout", True),
                     classify_status(502), "never"])
    result = retrying(3, 1.0, 30.0, sleep=waits.append)(lambda: next(outcomes))
    assert isinstance(result, AttemptFailure) and result.http_status == 502
    assert len(waits) == 2


def test_retry_after_is_a_minimum_wait() -> None:
    waits: list[float] = []
    outcomes = iter([classify_status(429, retry_after=7.0), "ok"])
    assert retrying(3, 0.1, 0.2, sleep=waits.append)(lambda: next(outcomes)) == "ok"
    assert waits == [7.0]


def test_non_retryable_failure_is_not_retried() -> None:
    calls = []

    def attempt() -> AttemptFailure:
        calls.append(1)
        return classify_status(404)

    assert retrying(3, 0.0, 0.0, sleep=lambda s: None)(attempt).kind is ErrorKind.NOT_FOUND
    assert len(calls) == 1
