"""`domain/analysis.py`, beyond valid or not (test_analysis.py): the reason it gives names what
is wrong, exact numbers stay exact, -0 is 0, and no body (deep nesting, JSON constants, bytes
that are not UTF-8) escapes as anything but InvalidAnalysis."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from esg_assets.domain.analysis import InvalidAnalysis, load_json_exact, parse_analysis
from esg_assets_tests.domain.test_analysis import body


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", "body is not JSON"),
        (b"\xff\xfe", "body is not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "body is nested too deeply"),
        (b'{"account_id": "ACC-1", "x": Infinity}', "body holds the non-JSON constant Infinity"),
        (b"[]", "body is not a JSON object"),
        (body(account_id=None), "account_id is missing"),
        (body(account_id="ACC-2"), "account_id differs from the account asked for"),
        (body(analysis_date=20261126), "analysis_date is missing or not a string"),
        (body(analysis_date="2026-02-30"), "analysis_date is not a valid YYYY-MM-DD date"),
        (body(analysis_date="2026-1-05"), "analysis_date is not a valid YYYY-MM-DD date"),
        (body(scores=[1, 2]), "scores is not an object"),
        (body(scores={"social": "50"}), "scores.social is not a number"),
        (body(scores={"governance": 100.0001}), "scores.governance is outside 0..100"),
        (body(primary_focus=[]), "primary_focus is not an object"),
        (body(primary_focus={"pillar": "Economic"}), "primary_focus.pillar is not Environmental, Social or Governance"),
        (body(primary_focus={"pillar": "Social", "score": -1}), "primary_focus.score is outside 0..100"),
    ],
)
def test_the_reason_names_what_is_wrong(payload: bytes, reason: str) -> None:
    with pytest.raises(InvalidAnalysis) as err:
        parse_analysis(payload, "ACC-1")
    assert str(err.value) == reason


def test_numbers_are_exact_decimals_never_floats() -> None:
    doc = load_json_exact(b'{"a": 0.1, "b": 72.454999999999999999, "c": 80}')
    assert doc == {"a": Decimal("0.1"), "b": Decimal("72.454999999999999999"), "c": Decimal(80)}


def test_minus_zero_is_zero_and_the_bounds_are_inclusive() -> None:
    a = parse_analysis(body(scores={"overall": -0.0, "environmental": 0, "social": 100, "governance": 100.0}), "ACC-1")
    assert str(a.overall) == "0.0" and not a.overall.is_signed()
    assert (a.environmental, a.social, a.governance) == (Decimal(0), Decimal(100), Decimal("100.0"))


def test_scores_null_and_focus_null_are_absent_values_not_errors() -> None:
    a = parse_analysis(body(scores=None, primary_focus={"pillar": None, "score": None}), "ACC-1")
    assert a.values() == (None,) * 6 and a.analysis_date == "2026-11-26"


def test_unknown_fields_are_ignored() -> None:
    doc = json.loads(body())
    doc["extra"] = {"nested": [1, 2, 3]}
    assert parse_analysis(json.dumps(doc).encode(), "ACC-1").primary_pillar == "Environmental"
