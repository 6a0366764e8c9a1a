"""Fuzzing the parsers of every upstream answer with a deterministic generated corpus: each
malformed body or header gives a value or the parser's own declared error, never anything else
(RecursionError, OverflowError, InvalidOperation ... would end the run instead of failing one
answer)."""

from __future__ import annotations

import itertools
import math
import random
from decimal import Decimal

import pytest

from esg_assets.domain.analysis import InvalidAnalysis, parse_analysis
from esg_assets.domain.pages import InvalidPage, InvalidRecord, parse_ams_page, parse_feed_page, parse_token
from esg_assets.domain.rounding import format_score
from esg_assets.resources.retry import parse_retry_after

NUMBERS = ["1e999", "1E-999999", "-0", "-0.0", "NaN", "Infinity", "-Infinity", "1e999999999999999999",
           "9" * 5000, "0." + "0" * 5000 + "1", "100.0000001", "-1e-999", "1E+2", "72.455", "0", "100", "-5",
           '"72"', "true", "null", "[]", "{}"]
HEADERS = ["²", "١٢", "9223372037", "9" * 400, "1e999", "-0", "-1", "NaN", "", " ", "1.5", "0x10",
           "Mon, 99 Feb 2026 99:99:99 GMT", "Tue, 01 Dec 9999 00:00:00 GMT", "Thu, 01 Jan 0001 00:00:00 GMT",
           "Tue, 01 Dec 2026 00:00:00 +9999", "\x00", "\u2028", "120", "121", "  7  "]

ANALYSIS = ('{"account_id":"A1","analysis_date":"2026-11-20","scores":{"overall":@,"environmental":1,'
            '"social":2,"governance":3},"primary_focus":{"pillar":"Social","score":@}}')
AMS = ('{"data":[{"account_id":"A1","account_name":"N","status":"active","updated_at":"2026-11-01T00:00:00Z"},'
       '{"account_id":@,"account_name":"M","status":"active","updated_at":"2026-11-01T00:00:00+01:00"}],'
       '"next_cursor":null}')
FEED = '{"data":[{"account_id":"A1","changed_at":"2026-11-01T00:00:00Z"},{"account_id":@}],"next_cursor":@}'
TOKEN = '{"access_token":"t","token_type":"Bearer","expires_in":@}'


def corpus(template: str, seed: int) -> list[bytes]:
    """The template with every number put in its holes, truncations, deep nestings, byte
    flips and odd Unicode: a few hundred bodies, the same on every run."""
    rng = random.Random(seed)
    bodies = [template.replace("@", n).encode() for n in NUMBERS]
    valid = template.replace("@", "1").encode()
    bodies += [valid[:i] for i in range(0, len(valid), 7)]
    bodies += [b"[" * 10_000 + b"]" * 10_000, b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
               b'{"data":' + b"[" * 5000 + b"]" * 5000 + b',"next_cursor":null}']
    bodies += [template.replace("@", '"\\ud800"').encode(), template.replace("@", '"\\udfff\\ud800"').encode(),
               b"\xff\xfe" + valid, valid.replace(b"1", b"\xc3\x28", 1), b"", b"null", b"[]", b'"x"', b"1e999"]
    for _ in range(200):
        data = bytearray(valid)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        bodies.append(bytes(data))
    return bodies


@pytest.mark.parametrize("body", corpus(ANALYSIS, 1))
def test_analysis_parser(body: bytes) -> None:
    try:
        analysis = parse_analysis(body, "A1")
    except InvalidAnalysis:
        return
    for value in (analysis.overall, analysis.primary_score):
        if value is not None:
            assert value.is_finite() and 0 <= value <= 100
            assert not format_score(value).startswith("-")


@pytest.mark.parametrize("body", corpus(AMS, 2))
def test_ams_page_parser(body: bytes) -> None:
    try:
        accounts, _ = parse_ams_page(body, 3)
    except (InvalidPage, InvalidRecord) as err:
        assert "\n" not in str(err)
        return
    assert all(a.account_name.encode("utf-8") for a in accounts)


@pytest.mark.parametrize("body", corpus(FEED, 3))
def test_feed_page_parser(body: bytes) -> None:
    try:
        parse_feed_page(body)
    except InvalidPage:
        pass


@pytest.mark.parametrize("body", corpus(TOKEN, 4))
def test_token_parser(body: bytes) -> None:
    try:
        _, expires_in = parse_token(body)
    except InvalidPage:
        return
    assert math.isfinite(expires_in) and expires_in > 0


@pytest.mark.parametrize("value", HEADERS + ["".join(p) for p in itertools.product("9²-. ", repeat=3)])
def test_retry_after_parser_never_raises(value: str) -> None:
    seconds = parse_retry_after(value)
    assert seconds is None or (math.isfinite(seconds) and seconds >= 0)


def test_retry_after_reads_what_the_contract_says() -> None:
    assert parse_retry_after("²") is None and parse_retry_after("-1") is None and parse_retry_after("1.5") is None
    assert parse_retry_after(" 7 ") == 7.0
    assert parse_retry_after("9223372037") == 9223372037.0
    assert parse_retry_after("9" * 400) > 86400  # type: ignore[operator]


def test_minus_zero_is_zero_and_tiny_values_round() -> None:
    a = parse_analysis(ANALYSIS.replace("@", "-0").encode(), "A1")
    assert format_score(a.overall) == "0.00"
    b = parse_analysis(ANALYSIS.replace("@", "1E-999999").encode(), "A1")
    assert b.overall == Decimal("1E-999999") and format_score(b.overall) == "0.00"
