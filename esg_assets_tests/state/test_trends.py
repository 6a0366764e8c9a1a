"""`state/trends.py` on a real, encrypted state database: the score histograms (bin edges exact,
100 in the last bin, out-of-range values clamped, never lost) and the 30-day history window
(inclusive, one row per partition: its latest run; a row no run could write is refused)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import duckdb
import pytest

from esg_assets.state import ratings_repo, trends
from esg_assets.state.accounts_repo import replace_accounts
from esg_assets.state.history_repo import record_history
from esg_assets_tests.state.statedb import D, accounts, failed, ok, partial, state_db, summary


@pytest.fixture
def con(tmp_path) -> Iterator[duckdb.DuckDBPyConnection]:
    with state_db(tmp_path) as c:
        yield c


def test_histogram_bins_are_exact_at_the_edges_and_hold_every_present_value(con) -> None:
    scores = ["0", "9.99", "10.00", "10", "55.5", "99.999", "100", "100.0"]
    results = [ok(f"A{i}", s) for i, s in enumerate(scores)] + [partial("P1"), failed("F1")]
    replace_accounts(con, D, [accounts(*(r.account_id for r in results))])
    ratings_repo.save_results(con, D, "r", results)
    got = trends.score_histograms(con, D)
    # Bin 0: 0, 9.99; bin 1: 10.00, 10; bin 5: 55.5; bin 9: 99.999, 100, 100.0; the Partial row's 70.5 in bin 7.
    assert got["overall"] == [2, 2, 0, 0, 0, 1, 0, 1, 0, 3]
    assert set(got) == {"overall", "environmental", "social", "governance"}
    assert trends.score_histograms(con, D, bins=1)["social"] == [9]  # the Failed row has no value


def test_values_outside_0_to_100_are_clamped_not_dropped(con) -> None:
    replace_accounts(con, D, [accounts("A1", "A2")])
    ratings_repo.save_results(con, D, "r", [ok("A1"), ok("A2")])
    con.execute("UPDATE ratings SET overall = CASE account_id WHEN 'A1' THEN '-5' ELSE '250' END")
    assert trends.score_histograms(con, D, bins=4)["overall"] == [1, 0, 0, 1]
    with pytest.raises(ValueError, match="bins must be at least 1"):
        trends.score_histograms(con, D, bins=0)


def record(con: duckdb.DuckDBPyConnection, partition: str, run: str, ended_hour: int, **extra) -> None:
    end = datetime(2026, 11, 27, ended_hour, tzinfo=UTC)
    record_history(con, summary(partition, **extra), run_id=run, started_at=end - timedelta(hours=1), ended_at=end)


def test_the_window_is_the_30_days_up_to_the_partition_one_row_each_its_latest_run(con) -> None:
    last = date.fromisoformat(D)
    for back in (0, 1, 29, 30):
        record(con, (last - timedelta(days=back)).isoformat(), "run-a", 6)
    record(con, D, "run-b", 9, successful=10)  # a rerun of D, later
    record(con, D, "run-c", 8)
    record(con, (last + timedelta(days=1)).isoformat(), "run-a", 6)  # after the partition
    rows = trends.history(con, D)
    assert [r["partition"] for r in rows] == [(last - timedelta(days=b)).isoformat() for b in (29, 1, 0)]
    assert (rows[-1]["run_id"], rows[-1]["successful"]) == ("run-b", 10)
    assert [r["partition"] for r in trends.history(con, D, days=1)] == [D]


def test_missing_figures_read_as_none_and_an_empty_history_is_empty(con) -> None:
    assert trends.history(con, D) == []
    record(con, D, "run-a", 6)
    [row] = trends.history(con, D)
    assert row["avg_environmental"] is None and row["avg_overall"] == 70.25


@pytest.mark.parametrize(("column", "value"), [("success_rate", 1.5), ("failed", -1), ("avg_social", 100.5)])
def test_a_history_row_no_run_could_write_stops_the_report_naming_the_column(con, column: str, value: float) -> None:
    record(con, D, "run-a", 6)
    con.execute(f"UPDATE job_history SET {column} = ?", [value])
    with pytest.raises(ValueError, match=rf"job_history of 2026-10-29\.\.{D} is invalid: .*{column}"):
        trends.history_frame(con, D)


def test_days_below_one_is_refused(con) -> None:
    with pytest.raises(ValueError, match="days must be at least 1"):
        trends.history_frame(con, D, days=0)
