"""`resources/esg_api.py` with a stub getter (stub_getter.py): one analysis per account (each
answer classified, retried or not, the attempts counted as requests sent, an invalid answer
named) and the changes feed (paged, 404/501 meaning "not offered", anything else "incomplete")."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from esg_assets.domain.models import AccountResult, AttemptFailure, ErrorKind, Status
from esg_assets.resources.counters import ApiCounters
from esg_assets.resources.esg_api import PAGE_LIMIT, EsgApiClient, FeedUnavailable
from esg_assets_tests.resources.stub_getter import SETTINGS, Answer, StubGetter, page, scripted


def analysis(account_id: str = "ACC-1", **scores: object) -> bytes:
    values = {"overall": 72.455, "environmental": 80, "social": 50.5, "governance": 61.125, **scores}
    return json.dumps({"account_id": account_id, "analysis_date": "2026-11-26", "scores": values,
                       "primary_focus": {"pillar": "Environmental", "score": 80}}).encode()


OK: Answer = (200, {}, analysis())


def client(*answers: Answer, resends: int = 0) -> tuple[EsgApiClient, StubGetter, ApiCounters, list[float]]:
    getter, counters, sleeps = StubGetter(scripted(*answers), resends=resends), ApiCounters(), []
    return EsgApiClient(getter, SETTINGS, counters, sleep=sleeps.append), getter, counters, sleeps  # type: ignore[arg-type]


def fetch(*answers: Answer, account: str = "ACC-1", resends: int = 0) -> tuple[AccountResult, StubGetter, ApiCounters, list[float]]:
    c, getter, counters, sleeps = client(*answers, resends=resends)
    return c.fetch_analysis(account), getter, counters, sleeps


def test_a_valid_answer_is_successful_in_one_attempt_exact() -> None:
    r, getter, counters, sleeps = fetch(OK)
    assert (r.status, r.attempts, r.error_kind, r.http_status) == (Status.SUCCESSFUL, 1, None, None)
    assert r.analysis is not None and r.analysis.overall == Decimal("72.455")
    assert getter.calls == [("https://esg.example/api/v1/accounts/ACC-1/esg-analysis", None)]
    assert counters.snapshot().retries == 0 and sleeps == []


def test_the_account_id_is_one_path_segment() -> None:
    _r, getter, _c, _s = fetch((200, {}, analysis("a/b c")), account="a/b c")
    assert getter.calls[0][0] == "https://esg.example/api/v1/accounts/a%2Fb%20c/esg-analysis"


@pytest.mark.parametrize("first", [(503, {}, b""), (500, {}, b""), (502, {}, b""), (408, {}, b""), (429, {}, b""),
                                   (200, {}, b"{"), AttemptFailure(ErrorKind.TIMEOUT, None, "read timeout after 1 s", True)])
def test_a_retryable_failure_then_an_answer_is_successful_in_two_attempts(first: Answer) -> None:
    r, getter, counters, sleeps = fetch(first, OK)
    assert (r.status, r.attempts, len(getter.calls), len(sleeps)) == (Status.SUCCESSFUL, 2, 2, 1)
    assert counters.snapshot().retries == 1


@pytest.mark.parametrize(
    ("status", "kind", "message"),
    [(404, ErrorKind.NOT_FOUND, "HTTP 404 account not covered"), (403, ErrorKind.FORBIDDEN, "HTTP 403 access to account refused"),
     (501, ErrorKind.HTTP_STATUS, "HTTP 501"), (505, ErrorKind.HTTP_STATUS, "HTTP 505"), (400, ErrorKind.HTTP_STATUS, "HTTP 400")],
)
def test_an_answer_that_is_not_retried_fails_the_account_after_one_attempt(status: int, kind: ErrorKind, message: str) -> None:
    r, getter, counters, sleeps = fetch((status, {}, b'{"error": "x"}'))
    assert (r.status, r.error_kind, r.http_status, r.error_message, r.attempts) == (Status.FAILED, kind, status, message, 1)
    assert len(getter.calls) == 1 and sleeps == [] and counters.snapshot().retries == 0


def test_a_failure_on_every_attempt_reports_the_last() -> None:
    r, getter, counters, sleeps = fetch((503, {}, b""), (500, {}, b""), (502, {}, b""))
    assert (r.status, r.error_kind, r.http_status, r.error_message, r.attempts) == (Status.FAILED, ErrorKind.HTTP_STATUS, 502,
                                                                                    "HTTP 502", 3)
    assert len(sleeps) == 2 and all(s <= SETTINGS.backoff_max_seconds for s in sleeps) and counters.snapshot().retries == 2


def test_an_invalid_answer_on_every_attempt_is_named() -> None:
    r, *_ = fetch((200, {}, analysis(overall=150)))
    assert (r.status, r.error_kind, r.http_status, r.attempts) == (Status.FAILED, ErrorKind.INVALID_RESPONSE, 200, 3)
    assert r.error_message == "invalid response: scores.overall is outside 0..100"


def test_an_answer_with_missing_values_is_partial_and_one_with_none_is_no_data() -> None:
    r, *_ = fetch((200, {}, analysis(social=None)))
    assert (r.status, r.error_kind, r.http_status, r.error_message) == (Status.PARTIAL, ErrorKind.PARTIAL_DATA, 200,
                                                                        "not available: social")
    empty = json.dumps({"account_id": "ACC-1", "analysis_date": "2026-11-26"}).encode()
    r, *_ = fetch((200, {}, empty))
    assert (r.status, r.error_kind, r.analysis, r.attempts) == (Status.FAILED, ErrorKind.NO_DATA, None, 1)


def test_a_429_waits_its_retry_after_and_one_beyond_the_ceiling_is_the_last_attempt() -> None:
    r, _g, _c, sleeps = fetch((429, {"Retry-After": "9"}, b""), OK)
    assert r.status is Status.SUCCESSFUL and sleeps[0] >= 9
    r, getter, _c, sleeps = fetch((429, {"Retry-After": "3600"}, b""), OK)
    assert (r.status, r.error_kind, r.attempts, sleeps) == (Status.FAILED, ErrorKind.RATE_LIMITED, 1, [])


def test_attempts_count_every_request_sent_a_401_resend_included() -> None:
    r, getter, counters, _s = fetch((503, {}, b""), OK, resends=1)  # each attempt re-sent once after a 401
    assert (r.status, r.attempts, len(getter.calls)) == (Status.SUCCESSFUL, 4, 2)
    assert counters.snapshot().retries == 3


SINCE = datetime(2026, 11, 26, 6, 0, 0, 123456, tzinfo=timezone(timedelta(hours=-6)))
FEED_URL = "https://esg.example/api/v1/esg-analysis/changes"


def feed(*answers: Answer) -> tuple[list[list[str]] | str, StubGetter]:
    c, getter, _counters, _sleeps = client(*answers)
    try:
        return list(c.changed_accounts(SINCE)), getter
    except FeedUnavailable as err:
        return str(err), getter


def test_the_feed_is_paged_by_cursor_since_the_instant_in_utc() -> None:
    pages, getter = feed((200, {}, page(["A1", "A2"], "c1")), (200, {}, page([], "c2")), (200, {}, page(["A3"], None)))
    assert pages == [["A1", "A2"], [], ["A3"]]
    base = {"since": "2026-11-26T12:00:00.123456Z", "limit": str(PAGE_LIMIT)}
    assert getter.calls == [(FEED_URL, base), (FEED_URL, {**base, "cursor": "c1"}), (FEED_URL, {**base, "cursor": "c2"})]


@pytest.mark.parametrize("status", [404, 501])
def test_404_or_501_means_the_feed_is_not_offered_asked_once(status: int) -> None:
    text, getter = feed((status, {}, b""))
    assert text == f"the provider does not offer the changes feed (HTTP {status})" and len(getter.calls) == 1


def test_a_feed_page_lost_on_every_attempt_means_everyone_is_called() -> None:
    text, getter = feed((200, {}, page(["A1"], "c1")), (503, {}, b""))
    assert text == "the changes feed could not be read completely: HTTP 503" and len(getter.calls) == 1 + 3


def test_an_invalid_feed_page_is_retried_then_named() -> None:
    pages, _ = feed((200, {}, b'{"data": [{"account_id": 7}], "next_cursor": null}'), (200, {}, page(["A1"], None)))
    assert pages == [["A1"]]
    text, getter = feed((200, {}, b'{"next_cursor": null}'))
    assert text == "the changes feed could not be read completely: changes feed page is not valid" and len(getter.calls) == 3


def test_a_feed_cursor_seen_before_is_a_loop() -> None:
    text, _ = feed((200, {}, page(["A1"], "c1")), (200, {}, page(["A2"], "c1")))
    assert text == "the changes feed could not be read completely: it repeats an earlier cursor (a loop)"
