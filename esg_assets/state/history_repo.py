"""The job-history table: one row per run that produced a summary, for trend analysis."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb


def _f(value: Any) -> float | None:
    return None if value is None else float(value)


def record_history(
    con: duckdb.DuckDBPyConnection, summary: dict[str, Any], *, run_id: str, started_at: datetime, ended_at: datetime
) -> None:
    """Append (or, for the same run, replace) the run's row."""
    c, avg, api = summary["status_counts"], summary["average_scores"], summary["api"]
    con.execute(
        "INSERT OR REPLACE INTO job_history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            summary["partition"], run_id,
            started_at.strftime("%Y-%m-%dT%H:%M:%SZ"), ended_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            summary["duration_seconds"], summary["total_accounts"],
            c["Successful"], c["Partial"], c["Failed"],
            summary["accounts_called"], summary["carried_forward"],
            _f(summary["success_rate"]), _f(summary["call_failure_rate"]),
            _f(avg["overall"]), _f(avg["environmental"]), _f(avg["social"]), _f(avg["governance"]),
            api["requests"], api["retries"], api["rate_limited"], api["token_refreshes"],
        ],
    )
