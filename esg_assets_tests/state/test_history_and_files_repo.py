"""`state/history_repo.py` and `state/files_repo.py` on a real, encrypted state database: one
job-history row per run (the same run replaces its row), and one manifest entry per file and
partition (a new write replaces it, `forget_file` removes it)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import duckdb
import pytest

from esg_assets.domain.carry_check import CarryCheck
from esg_assets.state.files_repo import FileEntry, forget_file, partition_files, record_file
from esg_assets.state.history_repo import record_history
from esg_assets_tests.state.statedb import D, P, state_db, summary

START, END = datetime(2026, 11, 27, 6, 0, tzinfo=UTC), datetime(2026, 11, 27, 6, 30, tzinfo=UTC)


@pytest.fixture
def con(tmp_path) -> Iterator[duckdb.DuckDBPyConnection]:
    with state_db(tmp_path) as c:
        yield c


def history(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute("""SELECT partition, run_id, started_at, ended_at, successful, failed, success_rate,
                                 avg_overall, avg_environmental, requests, carry_check_sampled, carry_check_differed
                          FROM job_history ORDER BY partition, run_id""").fetchall()


def test_a_run_appends_its_row_with_the_figures_as_numbers(con) -> None:
    record_history(con, summary(carry_check=CarryCheck(sampled=5, matched=3, differed=("A", "B"))),
                   run_id="run-1", started_at=START, ended_at=END)
    assert history(con) == [(D, "run-1", "2026-11-27T06:00:00Z", "2026-11-27T06:30:00Z", 18, 1, 0.9, 70.25, None, 14, 5, 2)]


def test_the_same_run_replaces_its_row_and_another_run_adds_one(con) -> None:
    record_history(con, summary(), run_id="run-1", started_at=START, ended_at=END)
    record_history(con, summary(successful=19), run_id="run-1", started_at=START, ended_at=END)
    record_history(con, summary(), run_id="run-2", started_at=START, ended_at=END)
    record_history(con, summary(P), run_id="run-0", started_at=START, ended_at=END)
    got = history(con)
    assert [(r[0], r[1], r[4]) for r in got] == [(P, "run-0", 18), (D, "run-1", 19), (D, "run-2", 18)]
    assert all(r[10:] == (0, 0) for r in got)  # no carry check: nothing sampled


def test_a_file_entry_is_kept_per_partition_and_replaced_by_a_new_write(con) -> None:
    assert partition_files(con, D) == {}
    record_file(con, D, FileEntry("FirmESGRatings_20261127.csv", 10, "a" * 64, 3), "run-1")
    record_file(con, D, FileEntry("FirmESGReport_20261127.html", 99, "b" * 64, None), "run-1")
    record_file(con, P, FileEntry("FirmESGRatings_20261126.csv", 7, "c" * 64, 2), "run-0")
    record_file(con, D, FileEntry("FirmESGRatings_20261127.csv", 12, "d" * 64, 4), "run-2")
    assert partition_files(con, D) == {
        "FirmESGRatings_20261127.csv": FileEntry("FirmESGRatings_20261127.csv", 12, "d" * 64, 4),
        "FirmESGReport_20261127.html": FileEntry("FirmESGReport_20261127.html", 99, "b" * 64, None),
    }
    written = con.execute("SELECT run_id, written_at FROM output_files WHERE partition = ? AND rows = 4", [D]).fetchone()
    assert written[0] == "run-2" and datetime.strptime(written[1], "%Y-%m-%dT%H:%M:%SZ")


def test_a_forgotten_file_leaves_the_manifest_and_the_other_days(con) -> None:
    record_file(con, D, FileEntry("x.csv", 1, "a" * 64, 1), "r")
    record_file(con, P, FileEntry("x.csv", 1, "a" * 64, 1), "r")
    forget_file(con, D, "x.csv")
    forget_file(con, D, "never-written.csv")  # nothing to forget is no error
    assert partition_files(con, D) == {} and list(partition_files(con, P)) == ["x.csv"]
