"""Validity of an ESG API answer and the status rules (upstream-apis.yaml)."""

import json
from decimal import Decimal

import pytest

from esg_assets.domain.analysis import InvalidAnalysis, parse_analysis
from esg_assets.domain.models import ErrorKind, Status
from esg_assets.domain.outcome import result_from
from esg_assets.resources.retry import classify_status
from datetime import datetime, timezone

NOW = datetime(2026, 11, 27, 11, 0, tzinfo=timezone.utc)


def body(**overrides: object) -> bytes:
    doc: dict[str, object] = {
        "account_id": "ACC-1",
        "analysis_date": "2026-11-26",
        "scores": {"overall": 72.455, "environmental": 80, "social": 50.5, "governance": 61.125},
        "primary_focus": {"pillar": "Environmental", "score": 80},
    }
    doc.update(overrides)
    return json.dumps(doc).encode()


def test_complete_answer_is_successful_with_exact_decimals() -> None:
    a = parse_analysis(b'{"account_id":"ACC-1","analysis_date":"2026-11-26","scores":{"overall":72.454999,'
                       b'"environmental":80,"social":0,"governance":100},"primary_focus":{"pillar":"Social","score":1.5}}',
                       "ACC-1")
    assert a.overall == Decimal("72.454999")
    assert a.environmental == Decimal("80")
    assert a.status is Status.SUCCESSFUL


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[1, 2]",
        b'"text"',
        body(account_id=None),
        body(account_id="ACC-2"),
        json.dumps({"analysis_date": "2026-11-26"}).encode(),
        body(analysis_date=None),
        body(analysis_date="2026-13-45"),
        body(analysis_date="20261126"),
        body(scores={"overall": "abc"}),
        body(scores={"overall": 150}),
        body(scores={"overall": -0.01}),
        body(scores={"overall": True}),
        body(scores="high"),
        body(primary_focus={"pillar": "Economic", "score": 10}),
        body(primary_focus={"pillar": "Social", "score": "10"}),
        body(primary_focus="Social"),
        b'{"account_id":"ACC-1","analysis_date":"2026-11-26","scores":{"overall":NaN}}',
    ],
)
def test_invalid_bodies_are_rejected(payload: bytes) -> None:
    with pytest.raises(InvalidAnalysis):
        parse_analysis(payload, "ACC-1")


def test_null_or_absent_values_make_a_partial_result() -> None:
    a = parse_analysis(body(scores={"overall": 70, "environmental": None, "social": 50}), "ACC-1")
    assert a.governance is None and a.environmental is None
    assert a.status is Status.PARTIAL
    r = result_from("ACC-1", a, 1, NOW)
    assert r.status is Status.PARTIAL
    assert r.error_kind is ErrorKind.PARTIAL_DATA and r.http_status == 200
    assert "environmental" in (r.error_message or "") and "governance" in (r.error_message or "")


def test_absent_primary_focus_is_partial() -> None:
    doc = json.loads(body())
    del doc["primary_focus"]
    assert parse_analysis(json.dumps(doc).encode(), "ACC-1").status is Status.PARTIAL


def test_all_six_null_is_failed_no_data() -> None:
    a = parse_analysis(body(scores={"overall": None}, primary_focus=None), "ACC-1")
    r = result_from("ACC-1", a, 2, NOW)
    assert r.status is Status.FAILED and r.analysis is None
    assert (r.error_kind, r.http_status, r.attempts) == (ErrorKind.NO_DATA, 200, 2)


def test_a_failure_is_reported_as_the_last_attempt_saw_it() -> None:
    r = result_from("ACC-1", classify_status(404), 1, NOW)
    assert (r.status, r.error_kind, r.http_status) == (Status.FAILED, ErrorKind.NOT_FOUND, 404)
