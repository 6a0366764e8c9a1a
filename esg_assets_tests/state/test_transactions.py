"""Every multi-statement write of the state database goes through `state.db.transaction`: a
failure inside one leaves the database as it was and the connection usable (a temporary DuckDB,
a real failure of a statement, no mock)."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from esg_assets.state import ratings_repo
from esg_assets.state.db import transaction
from esg_assets.state.schema import migrate

D = "2026-11-27"


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect(":memory:")
    migrate(c)
    for account_id, status in (("ACC-0000001", "Failed"), ("ACC-0000002", "Successful")):
        c.execute("INSERT INTO ratings (partition, account_id, status, source, ams_updated_at, attempts, run_id) "
                  "VALUES (?, ?, ?, 'called', '2026-01-01T00:00:00Z', 1, 'run-0')", [D, account_id, status])
    yield c
    c.close()


def rows(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("SELECT count(*) FROM ratings WHERE partition = ?", [D]).fetchone()[0])


def test_a_failure_inside_begin_fresh_leaves_the_rows_and_a_usable_connection(con) -> None:
    """`begin_fresh` deletes the day's rows, then records the run: when the second statement
    fails, the delete is undone and the next statement runs (it used to meet "transaction is
    aborted" with the delete neither kept nor undone)."""
    con.execute("DROP TABLE ratings_partitions")  # the run's record cannot be written
    with pytest.raises(duckdb.CatalogException):
        ratings_repo.begin_fresh(con, D, "run-1")
    assert rows(con) == 2
    assert con.execute("SELECT count(*) FROM ratings WHERE status = 'Failed'").fetchone()[0] == 1


def test_a_failure_inside_begin_resume_leaves_the_rows(con) -> None:
    con.execute("DROP TABLE ratings_partitions")
    with pytest.raises(duckdb.CatalogException):
        ratings_repo.begin_resume(con, D, "run-1", forced=[])
    assert rows(con) == 2


def test_transaction_commits_at_the_end_and_rolls_back_on_any_exception(con) -> None:
    with transaction(con):
        con.execute("DELETE FROM ratings WHERE account_id = 'ACC-0000001'")
    assert rows(con) == 1
    with pytest.raises(KeyboardInterrupt), transaction(con):
        con.execute("DELETE FROM ratings")
        raise KeyboardInterrupt
    assert rows(con) == 1
    with transaction(con):  # the connection is not left inside a transaction
        con.execute("DELETE FROM ratings")
    assert rows(con) == 0
