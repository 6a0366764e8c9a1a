"""A real state database for the repository tests: the project's own opener (`state.db.connect`,
encrypted, migrated) on a file in the test's temporary directory, and small builders for the
records the repositories take. No server, no Dagster."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from esg_assets.domain.models import Account, AccountResult, ErrorKind, EsgAnalysis, Status
from esg_assets.domain.carry_check import CarryCheck
from esg_assets.domain.summary import build_summary
from esg_assets.state.db import connect

D, P = "2026-11-27", "2026-11-26"
UPDATED = "2026-01-01T00:00:00Z"
AT = datetime(2026, 11, 27, 6, 0, 0, tzinfo=UTC)


@contextmanager
def state_db(tmp_path: Path, key: bytes | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """The encrypted state database `tmp_path/state.duckdb`, opened as the job opens it."""
    with connect(tmp_path / "state.duckdb", key or secrets.token_bytes(32), lock_wait_seconds=5) as con:
        yield con


def accounts(*ids: str, name: str = "Name", updated: str = UPDATED) -> list[Account]:
    return [Account(a, f"{name} {a}", updated) for a in ids]


def analysis(account_id: str, score: str | None = "70.5", pillar: str | None = "Social") -> EsgAnalysis:
    value = None if score is None else Decimal(score)
    return EsgAnalysis(account_id, "2026-11-20", value, value, value, value, pillar, value)


def ok(account_id: str, score: str = "70.5", attempts: int = 1) -> AccountResult:
    return AccountResult(account_id, Status.SUCCESSFUL, analysis(account_id, score), attempts, None, None, None, AT)


def partial(account_id: str) -> AccountResult:
    return AccountResult(account_id, Status.PARTIAL, analysis(account_id, pillar=None), 1, ErrorKind.PARTIAL_DATA, 200,
                         "not available: primary pillar", AT)


def failed(account_id: str, kind: ErrorKind = ErrorKind.HTTP_STATUS, http: int | None = 503, attempts: int = 3) -> AccountResult:
    return AccountResult(account_id, Status.FAILED, None, attempts, kind, http, f"HTTP {http}", AT)


def summary(partition: str = D, successful: int = 18, carry_check: CarryCheck | None = None) -> Any:
    """A daily summary as the job builds it (`domain.summary.build_summary`), of 20 accounts."""
    return build_summary(
        partition=partition, generated_at="2026-11-27T06:30:00Z", total_accounts=20,
        status_counts={"Successful": successful, "Partial": 1, "Failed": 19 - successful},
        accounts_called=12, carried_forward=8,
        score_sums={"overall": (Decimal("140.5"), 2), "social": (Decimal("1"), 1), "governance": (Decimal("2"), 1)},
        focus_counts={"Social": 2}, failed_accounts=["A9"],
        api={"requests": 14, "retries": 2, "rate_limited": 1, "token_refreshes": 0},
        duration_seconds=1800.0, carry_check=carry_check,
    )
