"""`resources/ams.py` with a stub getter (stub_getter.py): paging by cursor, retries of a lost
or invalid page, and the ways the list is incomplete or unusable, each in one line that never
holds a record's values."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from esg_assets.domain.models import Account, AttemptFailure, ErrorKind
from esg_assets.resources.ams import PAGE_LIMIT, AmsClient, AmsListIncomplete
from esg_assets_tests.resources.stub_getter import SETTINGS, Answer, StubGetter, page, scripted

RECORD = {"account_name": "Secret Name Ltd", "status": "active", "updated_at": "2026-11-20T09:30:00Z"}
OK: Answer = (200, {}, page(["A1"], None, **RECORD))


def listing(*answers: Answer, **settings: object) -> tuple[list[list[Account]] | str, StubGetter, list[float]]:
    """The pages the client yields (or its AmsListIncomplete text), the getter and the sleeps."""
    getter, sleeps = StubGetter(scripted(*answers)), []
    client = AmsClient(getter, replace(SETTINGS, **settings), sleep=sleeps.append)  # type: ignore[arg-type]
    try:
        return list(client.active_account_pages()), getter, sleeps
    except AmsListIncomplete as err:
        return str(err), getter, sleeps


def test_pages_are_followed_by_cursor_in_order() -> None:
    pages, getter, sleeps = listing((200, {}, page(["A1", "A2"], "c1", **RECORD)), (200, {}, page([], "c2", **RECORD)),
                                    (200, {}, page(["A3"], None, **RECORD)))
    assert [[a.account_id for a in p] for p in pages] == [["A1", "A2"], [], ["A3"]]
    assert pages[0][0] == Account("A1", "Secret Name Ltd", "2026-11-20T09:30:00Z")
    url = "https://ams.example/base/v1/accounts"
    base = {"status": "active", "limit": str(PAGE_LIMIT)}
    assert getter.calls == [(url, base), (url, {**base, "cursor": "c1"}), (url, {**base, "cursor": "c2"})]
    assert sleeps == []


@pytest.mark.parametrize("first", [(503, {}, b""), (500, {}, b"boom"), (200, {}, b"not json"), (200, {}, b'{"data": 1}'),
                                   AttemptFailure(ErrorKind.CONNECTION, None, "connection error (X)", True)])
def test_a_lost_or_invalid_page_is_asked_again(first: Answer) -> None:
    pages, getter, sleeps = listing(first, OK)
    assert [[a.account_id for a in p] for p in pages] == [["A1"]] and len(getter.calls) == 2 and len(sleeps) == 1


def test_a_page_lost_after_every_attempt_makes_the_list_incomplete() -> None:
    text, getter, sleeps = listing((200, {}, page(["A1"], "c1", **RECORD)), (500, {}, b""))
    assert text == "the AMS account list is incomplete: page 2 could not be fetched (HTTP 500)"
    assert len(getter.calls) == 1 + SETTINGS.max_attempts and len(sleeps) == SETTINGS.max_attempts - 1


@pytest.mark.parametrize(("status", "message"), [(404, "HTTP 404 account not covered"), (403, "HTTP 403 access to account refused"),
                                                 (400, "HTTP 400"), (501, "HTTP 501")])
def test_an_answer_that_is_not_retried_ends_the_list_at_once(status: int, message: str) -> None:
    text, getter, _ = listing((status, {}, b""))
    assert text == f"the AMS account list is incomplete: page 1 could not be fetched ({message})" and len(getter.calls) == 1


def test_a_page_invalid_on_every_attempt_is_named() -> None:
    text, getter, _ = listing((200, {}, b"[]"))
    assert text == "the AMS account list is incomplete: page 1 could not be fetched (AMS page is not valid)"
    assert len(getter.calls) == 3


def test_a_429_waits_its_retry_after_and_one_beyond_the_ceiling_ends_the_list() -> None:
    pages, _, sleeps = listing((429, {"Retry-After": "7"}, b""), OK)
    assert len(pages) == 1 and sleeps[0] >= 7
    text, getter, sleeps = listing((429, {"Retry-After": "121"}, b""), OK)
    assert text.endswith("page 1 could not be fetched (HTTP 429 rate limited)") and len(getter.calls) == 1 and sleeps == []


@pytest.mark.parametrize(
    ("record", "field_text"),
    [({"status": "closed"}, "field status is not active"),
     ({"account_id": "has space"}, "field account_id does not match ^[A-Za-z0-9_-]{1,64}$"),
     ({"updated_at": "2026-11-20 09:30"}, "field updated_at is not an RFC 3339 date-time with an offset"),
     ({"account_name": None}, "field account_name is not a valid UTF-8 string")],
)
def test_a_record_that_breaks_the_schema_makes_the_list_unusable_at_once(record: dict, field_text: str) -> None:
    bad = json.dumps({"data": [{"account_id": "A1", **RECORD}, {"account_id": "A2", **RECORD, **record}],
                      "next_cursor": None}).encode()
    text, getter, _ = listing((200, {}, bad))
    assert text == f"the AMS account list is unusable: AMS page 1, record 2: {field_text}"
    assert len(getter.calls) == 1 and "Secret Name" not in text


def test_a_record_missing_a_field_is_named() -> None:
    bad = json.dumps({"data": [{"account_id": "A1", "status": "active"}], "next_cursor": None}).encode()
    assert listing((200, {}, bad))[0] == "the AMS account list is unusable: AMS page 1, record 1: field account_name is missing"


def test_no_account_at_all_is_an_outage() -> None:
    assert listing((200, {}, page([], None, **RECORD)))[0] == "the AMS listed no active account at all: treated as an outage"


def test_a_cursor_seen_before_is_a_loop() -> None:
    text, getter, _ = listing((200, {}, page(["A1"], "c1", **RECORD)), (200, {}, page(["A2"], "c2", **RECORD)),
                              (200, {}, page(["A3"], "c1", **RECORD)))
    assert text == "the AMS account list is unusable: page 3 repeats an earlier cursor (a loop)" and len(getter.calls) == 3
