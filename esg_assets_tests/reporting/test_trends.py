"""The report's DuckDB queries against a real encrypted state database: score histograms
(bin boundaries, which rows count, exact decimals) and the 30-day job-history window."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from esg_assets.state.db import connect
from esg_assets.state.trends import HISTORY_COLUMNS, JobHistoryFrame, history, history_frame, score_histograms

DAY = "2026-11-20"


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with connect(tmp_path / "state.duckdb", os.urandom(32), lock_wait_seconds=5) as connection:
        yield connection


def add_rating(
    con: duckdb.DuckDBPyConnection,
    account_id: str,
    status: str,
    scores: tuple[str | None, str | None, str | None, str | None],
    partition: str = DAY,
    active: bool = True,
) -> None:
    if active:
        con.execute("INSERT INTO accounts VALUES (?, ?, ?, '2026-01-01T00:00:00Z')", [partition, account_id, f"Name {account_id}"])
    con.execute(
        """INSERT INTO ratings (partition, account_id, status, overall, environmental, social, governance,
                                source, ams_updated_at, attempts, run_id)
           VALUES (?, ?, ?, ?, ?, ?, ?, 'called', '2026-01-01T00:00:00Z', 1, 'run-1')""",
        [partition, account_id, status, *scores],
    )


def test_bin_boundaries(con: duckdb.DuckDBPyConnection) -> None:
    for i, value in enumerate(["0", "9.999999", "10", "10.00", "99.99", "100", "100.000000", "50.5", "89.999999", "90"]):
        add_rating(con, f"ACC-{i:07d}", "Successful", (value, None, None, None))
    h = score_histograms(con, DAY)
    #                     0  10 20 30 40 50 60 70 80 90
    assert h["overall"] == [2, 2, 0, 0, 0, 1, 0, 0, 1, 4]
    assert h["environmental"] == [0] * 10


def test_all_four_scores_and_which_rows_count(con: duckdb.DuckDBPyConnection) -> None:
    add_rating(con, "ACC-1", "Successful", ("72.455", "15", "35.5", "100"))
    add_rating(con, "ACC-2", "Partial", ("72.454999", None, "0", None))  # absent values are not counted
    add_rating(con, "ACC-3", "Failed", (None, None, None, None))
    # A Failed row never counts, even if a value were stored; other partitions never count;
    # a rating without an active account of the partition is not part of it (as in the summary).
    add_rating(con, "ACC-4", "Failed", ("55", "55", "55", "55"))
    add_rating(con, "ACC-5", "Successful", ("55", "55", "55", "55"), partition="2026-11-19")
    add_rating(con, "ACC-6", "Successful", ("55", "55", "55", "55"), active=False)
    h = score_histograms(con, DAY)
    assert h == {
        "overall": [0, 0, 0, 0, 0, 0, 0, 2, 0, 0],
        "environmental": [0, 1, 0, 0, 0, 0, 0, 0, 0, 0],
        "social": [1, 0, 0, 1, 0, 0, 0, 0, 0, 0],
        "governance": [0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    }


def test_other_bin_counts_and_empty_partition(con: duckdb.DuckDBPyConnection) -> None:
    assert score_histograms(con, DAY) == {k: [0] * 10 for k in ("overall", "environmental", "social", "governance")}
    for i, value in enumerate(["0", "19.99", "20", "39.99", "40", "59.99", "60", "79.99", "80", "100"]):
        add_rating(con, f"ACC-{i}", "Successful", (value, value, value, value))
    h = score_histograms(con, DAY, bins=5)
    assert h["overall"] == [2, 2, 2, 2, 2]
    assert score_histograms(con, DAY, bins=1)["social"] == [10]
    with pytest.raises(ValueError):
        score_histograms(con, DAY, bins=0)


def test_many_rows_are_aggregated_in_sql(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """INSERT INTO accounts SELECT ?, 'ACC-' || i, 'n', 'x' FROM range(20000) t(i)""", [DAY]
    )
    con.execute(
        """INSERT INTO ratings (partition, account_id, status, overall, source, ams_updated_at, attempts, run_id)
           SELECT ?, 'ACC-' || i, 'Successful', CAST((i % 10000) / 100 AS DECIMAL(8,2))::VARCHAR, 'called', 'x', 1, 'r'
           FROM range(20000) t(i)""",
        [DAY],
    )
    assert score_histograms(con, DAY)["overall"] == [2000] * 10


def add_history(con: duckdb.DuckDBPyConnection, partition: str, run_id: str, ended_at: str | None, success_rate: float) -> None:
    con.execute(
        "INSERT INTO job_history (partition, run_id, started_at, ended_at, success_rate) VALUES (?, ?, ?, ?, ?)",
        [partition, run_id, "2026-11-01T11:00:00Z", ended_at, success_rate],
    )


def test_history_window_order_and_latest_run(con: duckdb.DuckDBPyConnection) -> None:
    add_history(con, "2026-10-21", "too-old", "2026-10-21T11:00:00Z", 0.1)  # 31 days before DAY
    add_history(con, "2026-10-22", "first-day", "2026-10-22T11:00:00Z", 0.2)  # day 1 of the 30
    add_history(con, "2026-11-21", "future", "2026-11-21T11:00:00Z", 0.3)  # after the partition
    add_history(con, DAY, "rerun", "2026-11-20T15:30:00Z", 0.99)
    add_history(con, DAY, "morning", "2026-11-20T11:00:00Z", 0.9)
    add_history(con, "2026-11-05", "a", "2026-11-05T11:00:00Z", 0.5)
    rows = history(con, DAY)
    assert [(r["partition"], r["run_id"]) for r in rows] == [
        ("2026-10-22", "first-day"), ("2026-11-05", "a"), (DAY, "rerun"),
    ]
    assert rows[-1]["success_rate"] == pytest.approx(0.99)
    assert set(rows[0]) >= {"duration_seconds", "requests", "carried_forward", "call_failure_rate", "avg_overall"}
    assert [r["partition"] for r in history(con, DAY, days=1)] == [DAY]
    assert [r["partition"] for r in history(con, "2026-11-21", days=30)] == ["2026-11-05", DAY, "2026-11-21"]
    assert history(con, "2025-01-01") == []


def test_history_across_month_and_year_ends(con: duckdb.DuckDBPyConnection) -> None:
    for day in ("2025-12-01", "2025-12-02", "2025-12-31", "2026-01-01", "2026-01-30"):
        add_history(con, day, "r", day + "T11:00:00Z", 1.0)
    # 2026-01-29 minus 29 days is 2025-12-31: the window's first day is included.
    assert [r["partition"] for r in history(con, "2026-01-29")] == ["2025-12-31", "2026-01-01"]
    assert [r["partition"] for r in history(con, "2026-01-30")] == ["2026-01-01", "2026-01-30"]
    with pytest.raises(ValueError):
        history(con, "2026-02-30")


def test_history_frame_is_a_checked_dagster_pandas_frame(con: duckdb.DuckDBPyConnection) -> None:
    add_history(con, "2026-11-19", "a", "2026-11-19T11:00:00Z", 0.5)
    con.execute("UPDATE job_history SET total_accounts = 24, requests = 61, avg_overall = 55.5, duration_seconds = -1.5")
    frame = history_frame(con, DAY)
    assert list(frame.columns) == list(HISTORY_COLUMNS) and len(frame) == 1
    assert dg.check_dagster_type(JobHistoryFrame, frame).success
    assert history(con, DAY)[0]["total_accounts"] == 24 and history(con, DAY)[0]["retries"] is None


@pytest.mark.parametrize(("column", "value"), [
    ("success_rate", 1.5), ("call_failure_rate", -0.1), ("requests", -1), ("avg_social", 100.5), ("failed", -3),
])
def test_history_a_run_could_not_have_written_stops_the_report(con: duckdb.DuckDBPyConnection, column: str,
                                                                  value: float) -> None:
    add_history(con, "2026-11-18", "ok", "2026-11-18T11:00:00Z", 0.5)
    add_history(con, "2026-11-19", "bad", "2026-11-19T11:00:00Z", 0.5)
    con.execute(f"UPDATE job_history SET {column} = ? WHERE run_id = 'bad'", [value])
    with pytest.raises(ValueError, match=f'^job_history of 2026-10-22..{DAY} is invalid: .*"{column}"[^\n]*$'):
        history(con, DAY)


def test_scores_with_more_than_ten_decimals_are_still_binned_and_summed_exactly(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # The fast DECIMAL(18,10) arithmetic is used only when every score of the partition fits it;
    # 9.99999999999 would round to 10 there (the next bin) and the sum would lose its last digit.
    from decimal import Decimal

    from esg_assets.state.report_queries import figures, score_decimal

    add_rating(con, "ACC-1", "Successful", ("9.99999999999", "10", "10", "10"))
    add_rating(con, "ACC-2", "Successful", ("0.00000000002", "10", "10", "10"))
    assert score_decimal(con, DAY) == "DECIMAL(38,20)"
    assert score_histograms(con, DAY)["overall"] == [2, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert figures(con, DAY).score_sums["overall"] == (Decimal("10.00000000001"), 2)


def test_plain_scores_use_the_fast_exact_type(con: duckdb.DuckDBPyConnection) -> None:
    from decimal import Decimal

    from esg_assets.state.report_queries import figures, score_decimal

    add_rating(con, "ACC-1", "Successful", ("72.455", "0", "100", None))
    add_rating(con, "ACC-2", "Partial", ("72.454999", None, "0.5", "99.9999999999"))
    assert score_decimal(con, DAY) == "DECIMAL(18,10)"
    sums = figures(con, DAY).score_sums
    assert sums["overall"] == (Decimal("144.909999"), 2)
    assert sums["governance"] == (Decimal("99.9999999999"), 1)


def test_the_day_read_once_gives_what_the_separate_reads_gave(con: duckdb.DuckDBPyConnection) -> None:
    """day_figures (the summary's and the report's one scan) against hand counts: statuses,
    sources, exact sums over Successful and Partial rows only, histograms, the Failed accounts
    in ID order, inactive results left out; and the check's own counts agree with it."""
    from decimal import Decimal

    from esg_assets.state.report_queries import call_counts, day_figures

    add_rating(con, "ACC-3", "Failed", (None, None, None, None))
    add_rating(con, "ACC-1", "Successful", ("72.455", "10", "20", "30"))
    add_rating(con, "ACC-2", "Partial", ("0.5", None, "99.99", "100"))
    add_rating(con, "ACC-0", "Failed", (None, None, None, None))
    add_rating(con, "ACC-9", "Failed", (None, None, None, None), active=False)  # result of no active account
    con.execute("INSERT INTO accounts VALUES (?, 'ACC-8', 'No result', '2026-01-01T00:00:00Z')", [DAY])
    day = day_figures(con, DAY)
    f = day.figures
    assert f.total_accounts == 5
    assert f.status_counts == {"Successful": 1, "Partial": 1, "Failed": 2}
    assert (f.accounts_called, f.carried_forward) == (4, 0)
    assert f.score_sums == {"overall": (Decimal("72.955"), 2), "environmental": (Decimal("10"), 1),
                            "social": (Decimal("119.99"), 2), "governance": (Decimal("130"), 2)}
    assert day.failed_accounts == ["ACC-0", "ACC-3"]
    assert day.histograms == score_histograms(con, DAY)
    assert day.histograms["overall"] == [1, 0, 0, 0, 0, 0, 0, 1, 0, 0]
    assert day.histograms["governance"] == [0, 0, 0, 1, 0, 0, 0, 0, 0, 1]
    assert call_counts(con, DAY) == (2, 4)
