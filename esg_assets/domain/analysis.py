"""Reading one ESG API answer: a valid analysis, or the reason it is invalid.

Absent or null values are not invalid (they make the result Partial); everything listed as
invalid in upstream-apis.yaml raises `InvalidAnalysis`, which the client retries.
"""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from typing import Any

from esg_assets.domain.models import EsgAnalysis, Pillar

_SCORE_KEYS = ("overall", "environmental", "social", "governance")
_PILLARS = frozenset(p.value for p in Pillar)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class InvalidAnalysis(ValueError):
    """A 200 answer whose body breaks the EsgAnalysis schema."""


def _reject_constant(name: str) -> Any:
    raise InvalidAnalysis(f"body holds the non-JSON constant {name}")


_EXACT = json.JSONDecoder(parse_float=Decimal, parse_int=Decimal, parse_constant=_reject_constant)


def load_json_exact(body: bytes) -> Any:
    """Parse JSON keeping every number as an exact Decimal (never a binary float).

    Every malformed body raises a ValueError (InvalidAnalysis): a 10,000-deep nesting makes
    json raise RecursionError, which would otherwise end the run instead of failing one answer.
    """
    try:
        # What json.loads does with bytes, with one decoder made once (json.loads with these
        # arguments built a JSONDecoder and its scanner for every answer).
        return _EXACT.decode(body.decode(json.detect_encoding(body), "surrogatepass"))
    except RecursionError:
        raise InvalidAnalysis("body is nested too deeply") from None


def _score(value: Any, where: str) -> Decimal | None:
    if value is None:
        return None
    if not isinstance(value, Decimal):
        raise InvalidAnalysis(f"{where} is not a number")
    if not value.is_finite() or value < 0 or value > 100:
        raise InvalidAnalysis(f"{where} is outside 0..100")
    return value if value else abs(value)  # -0 is 0 (else the file would say -0.00)


def _analysis_date(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidAnalysis("analysis_date is missing or not a string")
    if not _DATE.fullmatch(value):
        raise InvalidAnalysis("analysis_date is not a valid YYYY-MM-DD date")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise InvalidAnalysis("analysis_date is not a valid YYYY-MM-DD date") from None
    return value


def parse_analysis(body: bytes, account_id: str) -> EsgAnalysis:
    """The analysis in a 200 body for `account_id`, or InvalidAnalysis naming what is wrong."""
    try:
        doc = load_json_exact(body)
    except InvalidAnalysis:
        raise
    except (ValueError, UnicodeDecodeError):
        raise InvalidAnalysis("body is not JSON") from None
    if not isinstance(doc, dict):
        raise InvalidAnalysis("body is not a JSON object")
    if "account_id" not in doc or doc["account_id"] is None:
        raise InvalidAnalysis("account_id is missing")
    if doc["account_id"] != account_id:
        raise InvalidAnalysis("account_id differs from the account asked for")
    analysis_date = _analysis_date(doc.get("analysis_date"))

    scores = doc.get("scores")
    if scores is None:
        scores = {}
    if not isinstance(scores, dict):
        raise InvalidAnalysis("scores is not an object")
    values = {key: _score(scores.get(key), f"scores.{key}") for key in _SCORE_KEYS}

    focus = doc.get("primary_focus")
    if focus is None:
        focus = {}
    if not isinstance(focus, dict):
        raise InvalidAnalysis("primary_focus is not an object")
    pillar = focus.get("pillar")
    if pillar is not None and (not isinstance(pillar, str) or pillar not in _PILLARS):
        raise InvalidAnalysis("primary_focus.pillar is not Environmental, Social or Governance")
    primary_score = _score(focus.get("score"), "primary_focus.score")

    return EsgAnalysis(
        account_id=account_id,
        analysis_date=analysis_date,
        overall=values["overall"],
        environmental=values["environmental"],
        social=values["social"],
        governance=values["governance"],
        primary_pillar=pillar,
        primary_score=primary_score,
    )
