"""The job's records, as frozen dataclasses: one AMS account, one ESG analysis, one result."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

# An Account ID as the AMS schema allows it (upstream-apis.yaml): checked on every AMS record and
# on every ID given to `esg-ratings rerun`, so an ID the job accepts is one it can call.
ACCOUNT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class Status(StrEnum):
    """Processing Status of one account (upstream-apis.yaml, "Outcome per account")."""

    SUCCESSFUL = "Successful"
    PARTIAL = "Partial"
    FAILED = "Failed"


class ErrorKind(StrEnum):
    """`Error Kind` column of the error file (docs/spec.md#error-csv)."""

    TIMEOUT = "timeout"
    CONNECTION = "connection"
    HTTP_STATUS = "http_status"
    RATE_LIMITED = "rate_limited"
    INVALID_RESPONSE = "invalid_response"
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    NO_DATA = "no_data"
    PARTIAL_DATA = "partial_data"


class Pillar(StrEnum):
    ENVIRONMENTAL = "Environmental"
    SOCIAL = "Social"
    GOVERNANCE = "Governance"


@dataclass(frozen=True)
class Account:
    """One active account as the AMS lists it."""

    account_id: str
    account_name: str
    updated_at: str  # RFC 3339 UTC, compared as given by the AMS


@dataclass(frozen=True)
class EsgAnalysis:
    """One valid answer of the ESG API; None means the API did not give that value."""

    account_id: str
    analysis_date: str  # YYYY-MM-DD
    overall: Decimal | None
    environmental: Decimal | None
    social: Decimal | None
    governance: Decimal | None
    primary_pillar: str | None
    primary_score: Decimal | None

    def values(self) -> tuple[object, ...]:
        """The six values whose presence decides Successful / Partial / Failed."""
        return (
            self.overall,
            self.environmental,
            self.social,
            self.governance,
            self.primary_pillar,
            self.primary_score,
        )

    @property
    def status(self) -> Status:
        present = sum(value is not None for value in self.values())
        if present == 6:
            return Status.SUCCESSFUL
        if present == 0:
            return Status.FAILED
        return Status.PARTIAL


@dataclass(frozen=True)
class AttemptFailure:
    """Why one request for an account did not give a valid analysis."""

    kind: ErrorKind
    http_status: int | None
    message: str
    retryable: bool
    retry_after: float | None = None  # seconds, from a 429's Retry-After


@dataclass(frozen=True)
class AccountResult:
    """The outcome of fetching one account in one run: what becomes its CSV and error rows."""

    account_id: str
    status: Status
    analysis: EsgAnalysis | None
    attempts: int  # requests made for the account in this run (a 401 re-send included)
    error_kind: ErrorKind | None
    http_status: int | None
    error_message: str | None
    last_attempt_at: datetime  # UTC


@dataclass(frozen=True)
class RatingRow:
    """A stored result joined with today's account name: the source of one CSV row."""

    account_id: str
    account_name: str
    status: str | None
    overall: str | None  # exact decimal text as received
    environmental: str | None
    social: str | None
    governance: str | None
    primary_pillar: str | None
    primary_score: str | None
    analysis_date: str | None


@dataclass(frozen=True)
class ErrorRow:
    """A stored Failed or Partial result: the source of one error-file row."""

    account_id: str
    attempts: int
    error_kind: str | None
    http_status: int | None
    error_message: str | None
    last_attempt_at: str | None
