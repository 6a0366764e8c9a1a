"""`state/report_queries.py` on a real, encrypted state database: rows read back in Account ID
byte order across chunk boundaries (keyset pagination), only active accounts, exact sums, and
the latest finished run."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import duckdb
import pytest

from esg_assets.domain.models import ErrorRow, RatingRow
from esg_assets.state import ratings_repo
from esg_assets.state import report_queries as q
from esg_assets.state.accounts_repo import replace_accounts
from esg_assets_tests.state.statedb import D, P, accounts, failed, ok, partial, state_db


@pytest.fixture
def con(tmp_path) -> Iterator[duckdb.DuckDBPyConnection]:
    with state_db(tmp_path) as c:
        yield c


def day(con: duckdb.DuckDBPyConnection, results: list, ids: list[str] | None = None, partition: str = D) -> None:
    replace_accounts(con, partition, [accounts(*(ids or [r.account_id for r in results]))])
    ratings_repo.begin_fresh(con, partition, "r")
    ratings_repo.save_results(con, partition, "r", results)


def test_rating_rows_are_in_byte_order_across_chunks_with_todays_name(con) -> None:
    ids = ["a-1", "B-2", "A-3", "b-0", "Z", "_x", "0"]
    day(con, [ok(a) for a in ids])
    got = list(q.rating_rows(con, D, chunk=2))
    assert [r.account_id for r in got] == sorted(ids, key=str.encode)
    assert got[0] == RatingRow("0", "Name 0", "Successful", "70.5", "70.5", "70.5", "70.5", "Social", "70.5", "2026-11-20")


def test_an_account_without_a_result_reads_with_no_status(con) -> None:
    day(con, [ok("A1")], ids=["A1", "A2"])
    assert q.missing_results(con, D) == 1
    assert [(r.account_id, r.status) for r in q.rating_rows(con, D)] == [("A1", "Successful"), ("A2", None)]


def test_error_rows_are_the_failed_and_partial_of_active_accounts_across_chunks(con) -> None:
    results = [failed("A1"), ok("A2"), partial("A3"), failed("A4", http=None), failed("A5"), ok("A6"), failed("A7")]
    day(con, results)
    replace_accounts(con, D, [accounts("A1", "A2", "A3", "A4", "A6", "A7")])  # A5 left the list
    got = list(q.error_rows(con, D, chunk=2))
    assert [r.account_id for r in got] == ["A1", "A3", "A4", "A7"]
    assert got[2] == ErrorRow("A4", 3, "http_status", None, "HTTP None", "2026-11-27T06:00:00Z")
    assert q.failed_accounts(con, D) == ["A1", "A4", "A7"]


def test_figures_are_exact_and_count_only_active_accounts(con) -> None:
    day(con, [ok("A1", "70.455"), ok("A2", "0.000001"), partial("A3"), failed("A4"), ok("A5", "99")])
    replace_accounts(con, D, [accounts("A1", "A2", "A3", "A4", "A6")])  # A5 gone, A6 new without a result
    f = q.figures(con, D)
    assert f.total_accounts == 5
    assert f.status_counts == {"Successful": 2, "Partial": 1, "Failed": 1}
    assert (f.accounts_called, f.carried_forward) == (4, 0)
    assert f.score_sums["overall"] == (Decimal("70.455") + Decimal("0.000001") + Decimal("70.5"), 3)
    assert f.focus_counts == {"Social": 2}  # the Partial row has no pillar


def test_scores_outside_the_plain_form_are_summed_in_the_wide_decimal(con) -> None:
    day(con, [ok("A1", "70.5"), ok("A2", "1.25")])
    assert q.score_decimal(con, D) == "DECIMAL(18,10)"
    con.execute("UPDATE ratings SET overall = '1.2E1' WHERE account_id = 'A2'")
    assert q.score_decimal(con, D) == "DECIMAL(38,20)"
    assert q.figures(con, D).score_sums["overall"] == (Decimal("82.5"), 2)


def test_an_empty_day_has_zero_figures(con) -> None:
    f = q.figures(con, D)
    assert (f.total_accounts, f.status_counts, f.focus_counts) == (0, {}, {})
    assert f.score_sums["governance"] == (Decimal(0), 0)
    assert list(q.rating_rows(con, D)) == [] and list(q.error_rows(con, D)) == [] and q.failed_accounts(con, D) == []


def test_the_latest_run_is_the_last_one_that_ended(con) -> None:
    assert q.latest_run(con, D) is None
    for run, ended in (("r1", "2026-11-27T07:00:00Z"), ("r2", "2026-11-27T09:00:00Z"), ("r3", None)):
        ratings_repo.record_run(con, D, run, "fresh", "2026-11-27T06:00:00Z")
        if ended:
            ratings_repo.finish_run(con, D, run, ended_at=ended, accounts_called=1, carried_forward=0, requests=len(run),
                                    retries=0, rate_limited=0, token_refreshes=0, feed_status="read")
    latest = q.latest_run(con, D)
    assert latest is not None and (latest["run_id"], latest["ended_at"], latest["requests"]) == ("r2", "2026-11-27T09:00:00Z", 2)
    assert q.latest_run(con, P) is None


def test_ratings_complete_only_once_marked(con) -> None:
    assert not q.ratings_completed(con, D)
    ratings_repo.begin_fresh(con, D, "r")
    assert not q.ratings_completed(con, D)
    ratings_repo.mark_completed(con, D, "2026-11-27T07:00:00.000000Z")
    assert q.ratings_completed(con, D)
