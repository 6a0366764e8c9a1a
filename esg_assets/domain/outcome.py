"""Turning the last attempt for an account into its result row (status and error fields)."""

from __future__ import annotations

from datetime import datetime

from esg_assets.domain.models import (
    AccountResult,
    AttemptFailure,
    ErrorKind,
    EsgAnalysis,
    Status,
)

_VALUE_NAMES = (
    "overall",
    "environmental",
    "social",
    "governance",
    "primary pillar",
    "primary score",
)


def result_from(
    account_id: str,
    outcome: EsgAnalysis | AttemptFailure,
    attempts: int,
    last_attempt_at: datetime,
) -> AccountResult:
    """Successful, Partial or Failed, with the error fields of the error file."""
    if isinstance(outcome, AttemptFailure):
        return AccountResult(
            account_id=account_id,
            status=Status.FAILED,
            analysis=None,
            attempts=attempts,
            error_kind=outcome.kind,
            http_status=outcome.http_status,
            error_message=outcome.message,
            last_attempt_at=last_attempt_at,
        )
    status = outcome.status
    kind: ErrorKind | None = None
    message: str | None = None
    if status is Status.PARTIAL:
        missing = [name for name, value in zip(_VALUE_NAMES, outcome.values()) if value is None]
        kind, message = ErrorKind.PARTIAL_DATA, "not available: " + ", ".join(missing)
    elif status is Status.FAILED:
        kind, message = ErrorKind.NO_DATA, "all six values are null or absent"
    return AccountResult(
        account_id=account_id,
        status=status,
        analysis=outcome if status is not Status.FAILED else None,
        attempts=attempts,
        error_kind=kind,
        http_status=200 if kind is not None else None,
        error_message=message,
        last_attempt_at=last_attempt_at,
    )
