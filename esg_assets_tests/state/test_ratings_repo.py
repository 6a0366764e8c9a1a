"""`state/ratings_repo.py` on a real, encrypted state database: the partition's life (fresh,
resume, completed), the previous completed partition, the calls still to make, and batch commits
that replace, never duplicate, and roll back whole."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import duckdb
import pytest

from esg_assets.state import ratings_repo as repo
from esg_assets.state.accounts_repo import replace_accounts
from esg_assets_tests.state.statedb import D, P, UPDATED, accounts, failed, ok, partial, state_db


@pytest.fixture
def con(tmp_path) -> Iterator[duckdb.DuckDBPyConnection]:
    with state_db(tmp_path) as c:
        yield c


def rows(con: duckdb.DuckDBPyConnection, partition: str = D) -> list[tuple]:
    return con.execute("""SELECT account_id, status, source, verified_on, run_id FROM ratings
                          WHERE partition = ? ORDER BY account_id""", [partition]).fetchall()


def day_with(con: duckdb.DuckDBPyConnection, *ids: str, partition: str = D) -> None:
    replace_accounts(con, partition, [accounts(*ids)])
    repo.begin_fresh(con, partition, "run-1")


def test_a_partition_never_run_has_no_state_and_a_fresh_one_starts_empty(con) -> None:
    assert repo.partition_state(con, D) is None
    repo.begin_fresh(con, D, "run-1")
    assert repo.partition_state(con, D) == (None, None)


def test_fetch_start_is_kept_from_the_first_run_and_completion_recorded(con) -> None:
    repo.begin_fresh(con, D, "run-1")
    repo.set_fetch_started(con, D, "2026-11-27T06:00:00.000000Z")
    repo.set_fetch_started(con, D, "2026-11-27T07:00:00.000000Z")  # a resume: the first instant stays
    repo.mark_completed(con, D, "2026-11-27T08:00:00.000000Z")
    assert repo.partition_state(con, D) == ("2026-11-27T06:00:00.000000Z", "2026-11-27T08:00:00.000000Z")


def test_the_previous_partition_is_the_latest_earlier_completed_one(con) -> None:
    assert repo.previous_completed(con, D) is None
    for day, done in (("2026-11-24", True), ("2026-11-25", True), (P, False), (D, True), ("2026-11-28", True)):
        repo.begin_fresh(con, day, "r")
        repo.set_fetch_started(con, day, f"{day}T06:00:00.000000Z")
        if done:
            repo.mark_completed(con, day, f"{day}T07:00:00.000000Z")
    # P never completed, D itself and later days do not count.
    assert repo.previous_completed(con, D) == ("2026-11-25", "2026-11-25T06:00:00.000000Z")
    assert repo.previous_completed(con, "2026-11-24") is None


def test_a_fresh_run_drops_the_partitions_results_and_only_them(con) -> None:
    day_with(con, "A1", "A2")
    day_with(con, "A1", partition=P)
    repo.save_results(con, D, "run-1", [ok("A1"), failed("A2")])
    repo.save_results(con, P, "run-1", [ok("A1")])
    repo.set_fetch_started(con, D, "x")
    repo.mark_completed(con, D, "y")
    repo.begin_fresh(con, D, "run-2")
    assert rows(con, D) == [] and len(rows(con, P)) == 1
    assert repo.partition_state(con, D) == (None, None)
    assert con.execute("SELECT last_run_id FROM ratings_partitions WHERE partition = ?", [D]).fetchone() == ("run-2",)


def test_a_resume_keeps_final_results_of_active_accounts_and_drops_the_rest(con) -> None:
    day_with(con, "A1", "A2", "A3", "A4", "A5")
    repo.save_results(con, D, "run-1", [ok("A1"), partial("A2"), failed("A3"), ok("A4"), ok("A5")])
    repo.set_fetch_started(con, D, "2026-11-27T06:00:00.000000Z")
    replace_accounts(con, D, [accounts("A1", "A2", "A3", "A5")])  # A4 left the list
    kept = repo.begin_resume(con, D, "run-2", forced=["A5"])
    assert kept == 2  # A1 Successful, A2 Partial; A3 Failed, A4 inactive, A5 forced
    assert [r[0] for r in rows(con)] == ["A1", "A2"]
    assert repo.partition_state(con, D) == ("2026-11-27T06:00:00.000000Z", None)
    assert con.execute("SELECT last_run_id FROM ratings_partitions WHERE partition = ?", [D]).fetchone() == ("run-2",)
    assert repo.prepare_calls(con, D) == 2 and list(repo.calls(con)) == ["A3", "A5"]


def test_calls_are_the_accounts_without_a_result_in_id_order_read_by_chunks(con) -> None:
    ids = [f"ACC-{i:03d}" for i in (9, 3, 7, 1, 5, 2, 8)]
    day_with(con, *ids)
    repo.save_results(con, D, "run-1", [ok("ACC-003")])
    assert repo.prepare_calls(con, D) == 6
    assert list(repo.calls(con, chunk=4)) == ["ACC-001", "ACC-002", "ACC-005", "ACC-007", "ACC-008", "ACC-009"]


def test_a_targeted_rerun_calls_exactly_the_named_ids_once_each_in_order(con) -> None:
    day_with(con, "A1", "A2", "A3")
    repo.save_results(con, D, "run-1", [ok("A1"), ok("A2"), ok("A3")])
    assert repo.prepare_calls(con, D, only=["A3", "A1", "A3"]) == 2
    assert list(repo.calls(con, chunk=1)) == ["A1", "A3"]
    assert repo.prepare_calls(con, D, only=[]) == 0 and list(repo.calls(con)) == []


def test_a_batch_replaces_an_earlier_result_and_never_duplicates_a_row(con) -> None:
    day_with(con, "A1", "A2")
    repo.save_results(con, D, "run-1", [failed("A1"), ok("A2")])
    repo.save_results(con, D, "run-2", [ok("A1", attempts=2)])
    repo.save_results(con, D, "run-2", [])  # an empty batch writes nothing
    assert rows(con) == [("A1", "Successful", "called", D, "run-2"), ("A2", "Successful", "called", D, "run-1")]


def test_a_stored_row_keeps_the_exact_text_and_the_error_fields(con) -> None:
    day_with(con, "A1", "A2", "A3")
    repo.save_results(con, D, "r", [ok("A1", score="70.455000"), failed("A2", http=None, attempts=4), partial("A3")])
    got = con.execute("""SELECT account_id, overall, primary_pillar, analysis_date, ams_updated_at, attempts,
                                error_kind, http_status, error_message, last_attempt_at
                         FROM ratings ORDER BY account_id""").fetchall()
    assert got == [
        ("A1", "70.455000", "Social", "2026-11-20", UPDATED, 1, None, None, None, "2026-11-27T06:00:00Z"),
        ("A2", None, None, None, UPDATED, 4, "http_status", None, "HTTP None", "2026-11-27T06:00:00Z"),
        ("A3", "70.5", None, "2026-11-20", UPDATED, 1, "partial_data", 200, "not available: primary pillar",
         "2026-11-27T06:00:00Z"),
    ]


def test_a_result_for_an_account_not_on_the_days_list_is_not_stored(con) -> None:
    day_with(con, "A1")
    repo.save_results(con, D, "r", [ok("A1"), ok("ZZ")])
    assert [r[0] for r in rows(con)] == ["A1"]


def test_a_batch_that_fails_half_way_leaves_the_earlier_rows_as_they_were(con) -> None:
    day_with(con, "A1", "A2")
    repo.save_results(con, D, "run-1", [ok("A1"), ok("A2")])
    before = rows(con)
    broken = replace(ok("A2"), attempts="many")  # type: ignore[arg-type]  # the INSERT cannot cast it
    with pytest.raises(duckdb.Error):
        repo.save_results(con, D, "run-2", [ok("A1"), broken])
    assert rows(con) == before  # the DELETE of the batch was rolled back with it
    repo.save_results(con, D, "run-3", [ok("A1")])  # and the connection is usable again
    assert rows(con)[0][4] == "run-3"


def test_runs_are_recorded_then_finished_with_their_traffic(con) -> None:
    repo.record_run(con, D, "run-1", "fresh", "2026-11-27T06:00:00Z")
    repo.finish_run(con, D, "run-1", ended_at="2026-11-27T07:00:00Z", accounts_called=3, carried_forward=2,
                    requests=5, retries=2, rate_limited=1, token_refreshes=0, feed_status="read")
    got = con.execute("SELECT mode, accounts_called, carried_forward, requests, feed_status FROM ratings_runs").fetchall()
    assert got == [("fresh", 3, 2, 5, "read")]


def test_status_and_error_kind_counts(con) -> None:
    assert repo.status_counts(con, D) == {} and repo.error_kind_counts(con, D) == {}
    day_with(con, "A1", "A2", "A3", "A4")
    repo.save_results(con, D, "r", [ok("A1"), partial("A2"), failed("A3"), failed("A4", http=404)])
    assert repo.status_counts(con, D) == {"Successful": 1, "Partial": 1, "Failed": 2}
    assert repo.error_kind_counts(con, D) == {"http_status": 2, "partial_data": 1}
