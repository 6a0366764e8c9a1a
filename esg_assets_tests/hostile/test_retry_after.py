"""Retry-After has a ceiling (ESG_API_RETRY_AFTER_MAX_SECONDS, contract 1.1) and every wait
is bounded and ends when the run stops: a longer Retry-After ends an account's attempts at once
(Failed, rate_limited, 429), and on an AMS page or the token endpoint fails the run at once."""

from __future__ import annotations

import threading
import time
from email.utils import formatdate

import pytest

from esg_assets.domain.models import ErrorKind, Status
from esg_assets.resources.ams import AmsListIncomplete
from esg_assets.resources.auth import AuthenticationError
from esg_assets.resources.retry import RetryStopped
from esg_assets_tests.support.hostile_clients import clients
from esg_assets_tests.hostile.server import Answer, Hostile, always

ACCOUNT = b'{"account_id":"A1","account_name":"One","status":"active","updated_at":"2026-11-01T00:00:00Z"}'
AMS_OK = always(Answer(200, b'{"data":[' + ACCOUNT + b'],"next_cursor":null}'))
TOMORROW = formatdate(time.time() + 86400, usegmt=True)


# Named ids: TOMORROW is an HTTP date of the collection's second, which differs between xdist workers.
@pytest.mark.parametrize("retry_after", ["86400", TOMORROW, "9223372037", "9" * 400],
                         ids=["a-day-of-seconds", "tomorrow-http-date", "beyond-int64-ms", "400-digits"])
def test_an_analysis_retry_after_above_the_ceiling_ends_the_account_at_once(retry_after: str) -> None:
    hostile = Hostile(ams=AMS_OK, analysis=always(Answer(429, b"{}", (("Retry-After", retry_after),))))
    with hostile.running(), clients(hostile) as up:
        started = time.monotonic()
        result = up.esg.fetch_analysis("A1")
    assert time.monotonic() - started < 5
    assert (result.status, result.error_kind, result.http_status) == (Status.FAILED, ErrorKind.RATE_LIMITED, 429)
    assert hostile.count("analysis") == 1


def test_a_retry_after_within_the_ceiling_is_waited_out() -> None:
    hostile = Hostile(analysis=always(Answer(429, b"{}", (("Retry-After", "1"),))))
    with hostile.running(), clients(hostile, ESG_API_MAX_ATTEMPTS="2") as up:
        started = time.monotonic()
        result = up.esg.fetch_analysis("A1")
    assert time.monotonic() - started >= 1
    assert result.error_kind == ErrorKind.RATE_LIMITED and hostile.count("analysis") == 2


def test_an_ams_retry_after_above_the_ceiling_fails_the_listing_at_once() -> None:
    hostile = Hostile(ams=always(Answer(429, b"{}", (("Retry-After", "121"),))))
    with hostile.running(), clients(hostile) as up:
        started = time.monotonic()
        with pytest.raises(AmsListIncomplete):
            list(up.ams.active_account_pages())
    assert time.monotonic() - started < 5 and hostile.count("ams") == 1


def test_a_token_endpoint_retry_after_above_the_ceiling_fails_at_once() -> None:
    hostile = Hostile(token=always(Answer(503, b"{}", (("Retry-After", "86400"),))), ams=AMS_OK)
    with hostile.running(), clients(hostile) as up:
        started = time.monotonic()
        with pytest.raises(AuthenticationError):
            list(up.ams.active_account_pages())
    assert time.monotonic() - started < 5 and hostile.count("token") == 1


def _stopped_within(up, calls, seconds: float) -> list[BaseException | None]:  # type: ignore[no-untyped-def]
    """Run each call in its own thread, set the run's stop after 0.5 s, and return what each
    ended with; every thread must end within `seconds` of the stop."""
    outcomes: list[BaseException | None] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            calls[i]()
        except BaseException as err:  # noqa: BLE001 - recorded for the assertion
            outcomes[i] = err

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(calls))]
    for t in threads:
        t.start()
    time.sleep(0.5)
    up.stop.set()
    deadline = time.monotonic() + seconds
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "a wait did not end when the run stopped"
    return outcomes


def test_token_endpoint_waits_end_when_the_run_stops_and_hold_no_lock() -> None:
    """A token endpoint answering 503 with Retry-After: 60: the worker waiting it out and the
    workers waiting for its token all end within a second of the stop."""
    hostile = Hostile(token=always(Answer(503, b"{}", (("Retry-After", "60"),))), analysis=always(Answer(200, b"{}")))
    with hostile.running(), clients(hostile) as up:
        outcomes = _stopped_within(up, [lambda: up.esg.fetch_analysis("A1")] * 3, 2.0)
    assert all(isinstance(o, RetryStopped) for o in outcomes), outcomes
    assert hostile.count("token") == 1


def test_ams_waits_end_when_the_run_stops() -> None:
    hostile = Hostile(ams=always(Answer(503, b"{}", (("Retry-After", "60"),))))
    with hostile.running(), clients(hostile) as up:
        outcomes = _stopped_within(up, [lambda: list(up.ams.active_account_pages())], 2.0)
    assert isinstance(outcomes[0], RetryStopped), outcomes


def test_a_feed_retry_after_above_the_ceiling_makes_the_feed_unavailable_at_once() -> None:
    from datetime import datetime, timezone

    from esg_assets.resources.esg_api import FeedUnavailable

    hostile = Hostile(feed=always(Answer(429, b"{}", (("Retry-After", "3600"),))))
    with hostile.running(), clients(hostile) as up:
        started = time.monotonic()
        with pytest.raises(FeedUnavailable, match="could not be read completely"):
            list(up.esg.changed_accounts(datetime(2026, 11, 1, tzinfo=timezone.utc)))
    assert time.monotonic() - started < 5 and hostile.count("feed") == 1
