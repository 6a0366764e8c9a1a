"""Malformed and hostile answers through the real clients against the scripted server: one bad
analysis fails its account (retried, then Failed invalid_response), an AMS record that breaks
the Account schema, an empty listing or a cursor loop makes the listing unusable (critical), and
a feed cursor loop makes the feed "cannot be read completely"."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from esg_assets.domain.models import ErrorKind, Status
from esg_assets.resources.ams import AmsListIncomplete
from esg_assets.resources.esg_api import FeedUnavailable
from esg_assets_tests.support.hostile_clients import clients
from esg_assets_tests.hostile.server import Answer, Hostile, always

DEEP = b'{"account_id":"A1","analysis_date":"2026-11-20","scores":' + b'{"x":' * 10_000 + b"1" + b"}" * 10_001


def record(**override: object) -> dict[str, object]:
    return {"account_id": "A1", "account_name": "One", "status": "active", "updated_at": "2026-11-01T00:00:00Z",
            **override}


def page(records: list[object], cursor: str | None) -> Answer:
    return Answer(200, json.dumps({"data": records, "next_cursor": cursor}).encode())


@pytest.mark.parametrize("body", [DEEP, b'{"account_id":"A1","analysis_date":"2026-11-20","scores":{"overall":1e999}}',
                                  b'{"account_id":"A1","analysis_date":"2026-11-20","scores":{"overall":NaN}}'])
def test_a_malformed_analysis_fails_its_account_after_retries(body: bytes) -> None:
    hostile = Hostile(analysis=always(Answer(200, body)))
    with hostile.running(), clients(hostile) as up:
        result = up.esg.fetch_analysis("A1")
    assert (result.status, result.error_kind, result.http_status) == (Status.FAILED, ErrorKind.INVALID_RESPONSE, 200)
    assert hostile.count("analysis") == 3


def test_a_retry_after_that_is_not_a_number_counts_as_absent() -> None:
    hostile = Hostile(analysis=always(Answer(429, b"{}", (("Retry-After", "²"),))))
    with hostile.running(), clients(hostile) as up:
        result = up.esg.fetch_analysis("A1")
    assert result.error_kind == ErrorKind.RATE_LIMITED and hostile.count("analysis") == 3


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (record(account_id="../../etc/passwd"), "account_id"),
        (record(account_id="x" * 65), "account_id"),
        (record(status="closed"), "status"),
        (record(updated_at="2026-11-01T00:00:00"), "updated_at"),
        (record(updated_at="yesterday"), "updated_at"),
        ({k: v for k, v in record().items() if k != "account_name"}, "account_name"),
    ],
)
def test_an_ams_record_breaking_the_schema_fails_the_listing_naming_page_position_field(bad: dict, field: str) -> None:
    def ams(n: int, query: dict[str, list[str]]) -> Answer:
        if "cursor" not in query:
            return page([record(account_id="A0")], "c1")
        return page([record(account_id="A2"), record(account_id="A3", account_name="Secret Name Ltd"), bad], None)

    hostile = Hostile(ams=ams)
    with hostile.running(), clients(hostile) as up, pytest.raises(AmsListIncomplete) as caught:
        list(up.ams.active_account_pages())
    text = str(caught.value)
    assert "page 2" in text and "record 3" in text and field in text and "\n" not in text
    assert "passwd" not in text and "Secret Name" not in text and "closed" not in text
    assert hostile.count("ams") == 2  # not retried: the list is unusable


def test_an_unpaired_surrogate_in_a_name_fails_the_listing() -> None:
    body = b'{"data":[{"account_id":"A1","account_name":"Bad \\ud800 name","status":"active",' \
           b'"updated_at":"2026-11-01T00:00:00+02:00"}],"next_cursor":null}'
    hostile = Hostile(ams=always(Answer(200, body)))
    with hostile.running(), clients(hostile) as up, pytest.raises(AmsListIncomplete, match="record 1.*account_name"):
        list(up.ams.active_account_pages())


def test_an_empty_listing_is_an_outage() -> None:
    hostile = Hostile(ams=always(page([], None)))
    with hostile.running(), clients(hostile) as up, pytest.raises(AmsListIncomplete, match="no active account"):
        list(up.ams.active_account_pages())


def test_an_ams_cursor_loop_fails_the_listing() -> None:
    hostile = Hostile(ams=lambda n, query: page([record(account_id=f"A{n}")], "c1" if n % 2 == 0 else "c2"))
    with hostile.running(), clients(hostile) as up, pytest.raises(AmsListIncomplete, match="loop"):
        list(up.ams.active_account_pages())
    assert hostile.count("ams") == 3


def test_a_feed_cursor_loop_means_the_feed_cannot_be_read_completely() -> None:
    hostile = Hostile(feed=lambda n, query: page([{"account_id": f"A{n}", "changed_at": "2026-11-01T00:00:00Z"}],
                                                 "same"))
    with hostile.running(), clients(hostile) as up, pytest.raises(FeedUnavailable, match="cannot|could not"):
        list(up.esg.changed_accounts(datetime(2026, 11, 1, tzinfo=timezone.utc)))
    assert hostile.count("feed") == 2


def test_a_deeply_nested_feed_page_is_unavailable_not_a_crash() -> None:
    hostile = Hostile(feed=always(Answer(200, b'{"data":' + b"[" * 10_000 + b"]" * 10_000 + b"}")))
    with hostile.running(), clients(hostile) as up, pytest.raises(FeedUnavailable):
        list(up.esg.changed_accounts(datetime(2026, 11, 1, tzinfo=timezone.utc)))


def test_a_slow_drip_answer_ends_at_the_whole_response_deadline() -> None:
    """Each byte comes well within the 0.5 s read timeout; the whole would take 8 s."""
    import time

    hostile = Hostile(analysis=always(Answer(200, b" " * 40, drip=0.2)))
    with hostile.running(), clients(hostile, ESG_API_TIMEOUT_SECONDS="0.5", ESG_API_MAX_ATTEMPTS="1") as up:
        started = time.monotonic()
        result = up.esg.fetch_analysis("A1")
    assert time.monotonic() - started < 3
    assert result.error_kind == ErrorKind.TIMEOUT and "not complete within 1 s" in (result.error_message or "")


def test_a_body_above_the_cap_is_an_invalid_answer() -> None:
    hostile = Hostile(analysis=always(Answer(200, b"{" + b" " * (9 * 1024 * 1024) + b"}")))
    with hostile.running(), clients(hostile, ESG_API_MAX_ATTEMPTS="1") as up:
        result = up.esg.fetch_analysis("A1")
    assert result.error_kind == ErrorKind.INVALID_RESPONSE and "MiB" in (result.error_message or "")


@pytest.mark.parametrize("kind", ["analysis", "token"])
def test_dripped_headers_end_at_the_whole_response_deadline(kind: str) -> None:
    """Status line and headers one byte every 0.05 s (each receive well within the read
    timeout; the whole would take minutes): cut at connect + read timeout."""
    import time

    from esg_assets.resources.auth import AuthenticationError

    dripping = always(Answer(200, b"{}", header_drip=0.05))
    hostile = Hostile(analysis=dripping) if kind == "analysis" else Hostile(token=dripping)
    with hostile.running(), clients(hostile, ESG_API_TIMEOUT_SECONDS="0.5", ESG_API_MAX_ATTEMPTS="1") as up:
        started = time.monotonic()
        if kind == "analysis":
            result = up.esg.fetch_analysis("A1")
            assert result.error_kind == ErrorKind.TIMEOUT and "not complete within 1 s" in (result.error_message or "")
        else:
            with pytest.raises(AuthenticationError, match="not complete within 1 s"):
                up.esg.fetch_analysis("A1")
    assert time.monotonic() - started < 3
