"""From stored results to the fields of the output files (docs/spec.md#ratings-csv, #error-csv)."""

from __future__ import annotations

from decimal import Decimal

from esg_assets.domain.models import ErrorRow, RatingRow, Status
from esg_assets.domain.rounding import NOT_AVAILABLE, format_score


def _score(text: str | None) -> str:
    return format_score(None if text is None else Decimal(text))


def rating_fields(row: RatingRow) -> list[str]:
    """Columns 1-10 of the ratings file; every ESG field of a Failed row is N/A."""
    if row.status is None:
        raise ValueError(f"account {row.account_id} has no result")
    if row.status == Status.FAILED:
        return [row.account_id, row.account_name] + [NOT_AVAILABLE] * 7 + [row.status]
    return [
        row.account_id,
        row.account_name,
        _score(row.overall),
        _score(row.environmental),
        _score(row.social),
        _score(row.governance),
        row.primary_pillar or NOT_AVAILABLE,
        _score(row.primary_score),
        row.analysis_date or NOT_AVAILABLE,
        row.status,
    ]


def error_fields(row: ErrorRow) -> list[str]:
    """Columns of the error file; HTTP Status is empty where no response came."""
    return [
        row.account_id,
        str(row.attempts),
        row.error_kind or "",
        "" if row.http_status is None else str(row.http_status),
        row.error_message or "",
        row.last_attempt_at or "",
    ]
