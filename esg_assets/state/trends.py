"""Figures for the daily HTML report that the summary does not hold: how the day's scores are
distributed, and how the job has done over the last 30 days (from `job_history`).

Everything is aggregated inside DuckDB, so a partition of a million accounts costs one scan and
returns a few dozen numbers to Python. The 30 days of job history come back as a DataFrame
checked against `JobHistoryFrame` (dagster-pandas column constraints), so a history row that no
run of this job could have written (a rate above 1, a negative count, a day twice) stops the
report with one line naming the column instead of drawing a wrong trend.
"""

from __future__ import annotations

import warnings
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

import dagster as dg
import duckdb

if TYPE_CHECKING:
    import pandas as pd
    from dagster_pandas import PandasColumn

from esg_assets.state.report_queries import day_figures
from esg_assets.storage.names import parse_partition


def score_histograms(con: duckdb.DuckDBPyConnection, partition: str, bins: int = 10) -> dict[str, list[int]]:
    """Count of present values of each score (overall, environmental, social, governance) in
    `bins` equal bins over 0..100, for the partition's Successful and Partial rows.

    Bin i holds values in [i*w, (i+1)*w) with w = 100/bins; 100 itself goes into the last bin
    (scores are on a closed 0..100 scale). Values outside 0..100, which a valid API answer never
    holds, are clamped into the first or last bin rather than dropped, so the counts always add
    up to the number of values present.
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    # Computed with the day's other figures, in the same scan (report_queries.day_figures).
    return day_figures(con, partition, bins).histograms


HISTORY_COLUMNS = (
    "partition", "run_id", "started_at", "ended_at", "duration_seconds", "total_accounts",
    "successful", "partial", "failed", "accounts_called", "carried_forward", "success_rate",
    "call_failure_rate", "avg_overall", "avg_environmental", "avg_social", "avg_governance",
    "requests", "retries", "rate_limited", "token_refreshes", "carry_check_sampled", "carry_check_differed",
)
_COUNTS = ("total_accounts", "successful", "partial", "failed", "accounts_called", "carried_forward",
           "requests", "retries", "rate_limited", "token_refreshes")


def _history_columns() -> list[PandasColumn]:
    from dagster_pandas import PandasColumn

    # Figures of a run may be missing (an older schema, a partial row): NULLs are allowed, wrong
    # values are not. The duration has no lower bound: a clock step may make it negative.
    return [
        PandasColumn.string_column("partition", non_nullable=True, unique=True),
        PandasColumn.string_column("run_id", non_nullable=True),
        PandasColumn.string_column("started_at"),
        PandasColumn.string_column("ended_at"),
        PandasColumn.float_column("duration_seconds", ignore_missing_vals=True),
        *(PandasColumn.integer_column(c, min_value=0, ignore_missing_vals=True) for c in _COUNTS),
        *(PandasColumn.float_column(c, min_value=0.0, max_value=1.0, ignore_missing_vals=True)
          for c in ("success_rate", "call_failure_rate")),
        *(PandasColumn.float_column(f"avg_{c}", min_value=0.0, max_value=100.0, ignore_missing_vals=True)
          for c in ("overall", "environmental", "social", "governance")),
    ]


@cache
def job_history_frame_type() -> dg.DagsterType:
    """`JobHistoryFrame`, built on first use: pandas and dagster-pandas cost every process that
    loads the definitions about 50 MB and a second of start-up, and only the report needs them,
    at the end of the run (docs/benchmarks.md, "Whole run")."""
    from dagster_pandas import create_dagster_pandas_dataframe_type

    with warnings.catch_warnings():  # the constructor is marked beta; its warning is noise in every CLI call
        warnings.simplefilter("ignore", dg.BetaWarning)
        return create_dagster_pandas_dataframe_type(
            name="JobHistoryFrame",
            description="The job history of up to 30 days, one row per partition (its latest run), ascending.",
            columns=_history_columns(),
        )


def __getattr__(name: str) -> Any:
    """`trends.JobHistoryFrame` still reads as a module attribute (PEP 562), built lazily."""
    if name == "JobHistoryFrame":
        return job_history_frame_type()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def history_frame(con: duckdb.DuckDBPyConnection, partition: str, days: int = 30) -> pd.DataFrame:
    """One job-history row per partition for the `days` days up to and including `partition`,
    ascending by partition, checked against `JobHistoryFrame`. A partition that ran more than
    once (a rerun, a resume) is represented by its latest run, the one whose figures the day's
    files now show."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    last = parse_partition(partition)
    first = last - timedelta(days=days - 1)
    columns = ", ".join(HISTORY_COLUMNS)
    # Partitions are YYYY-MM-DD text, so text comparison is date comparison. ended_at is
    # RFC 3339 UTC text, so the greatest one is the latest run; run_id only breaks exact ties.
    sql = f"""
        SELECT {columns} FROM job_history
        WHERE partition BETWEEN ? AND ?
        QUALIFY row_number() OVER (
            PARTITION BY partition ORDER BY ended_at DESC NULLS LAST, started_at DESC NULLS LAST, run_id DESC
        ) = 1
        ORDER BY partition
    """
    frame = con.execute(sql, [first.isoformat(), last.isoformat()]).df()
    check = dg.check_dagster_type(job_history_frame_type(), frame)
    if not check.success:
        reason = (check.description or "constraint violated").split("The offending")[0].strip()
        raise ValueError(f"job_history of {first.isoformat()}..{partition} is invalid: {reason}")
    return frame


def history(con: duckdb.DuckDBPyConnection, partition: str, days: int = 30) -> list[dict[str, Any]]:
    """`history_frame` as plain rows for the report (missing figures as None)."""
    frame = history_frame(con, partition, days)
    return frame.astype(object).where(frame.notna(), None).to_dict("records")
