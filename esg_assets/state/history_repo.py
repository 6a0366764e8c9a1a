"""The job-history table: one row per run that produced a summary, for trend analysis."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

from esg_assets.clock import utc_text
from esg_assets.domain.summary import Summary
from esg_assets.state.trends import HISTORY_COLUMNS


def _f(value: Any) -> float | None:
    return None if value is None else float(value)


def record_history(
    con: duckdb.DuckDBPyConnection, summary: Summary, *, run_id: str, started_at: datetime, ended_at: datetime
) -> None:
    """Append (or, for the same run, replace) the run's row."""
    c, avg, api, check = summary.status_counts, summary.average_scores, summary.api, summary.carry_check
    # By name: a migrated table has its columns in the order they were added (schema.py).
    con.execute(
        f"INSERT OR REPLACE INTO job_history ({', '.join(HISTORY_COLUMNS)}) VALUES ({', '.join('?' * len(HISTORY_COLUMNS))})",
        [
            summary.partition, run_id,
            utc_text(started_at), utc_text(ended_at),
            summary.duration_seconds, summary.total_accounts,
            c["Successful"], c["Partial"], c["Failed"],
            summary.accounts_called, summary.carried_forward,
            _f(summary.success_rate), _f(summary.call_failure_rate),
            _f(avg["overall"]), _f(avg["environmental"]), _f(avg["social"]), _f(avg["governance"]),
            api.requests, api.retries, api.rate_limited, api.token_refreshes,
            check.sampled, len(check.differed),
        ],
    )
