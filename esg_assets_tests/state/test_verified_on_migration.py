"""Schema 2 -> 3 (contract 1.1): a state database written by the code before Verified On
existed gets one, once. The database (`fixtures/schema2_written_by_050e167.duckdb`) was written
by that code itself: `python -m esg_assets_tests.state.fixtures.make_schema2_db` rebuilds it from
the repository's history. It is committed, so the test needs no git history (CI may clone
shallow); each test migrates its own copy with this code's `migrate`."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from esg_assets.state.schema import SCHEMA_VERSION, migrate

OLD_DB = Path(__file__).parent / "fixtures" / "schema2_written_by_050e167.duckdb"


@pytest.fixture(scope="module")
def old_db() -> Path:
    con = duckdb.connect(str(OLD_DB), read_only=True)
    try:
        assert con.execute("SELECT max(version) FROM schema_meta").fetchone()[0] == 2  # written in schema version 2
    finally:
        con.close()
    return OLD_DB


def copy_of(old_db: Path, tmp_path: Path) -> str:
    target = tmp_path / "copy.duckdb"
    shutil.copy(old_db, target)
    return str(target)


@pytest.fixture
def migrated(old_db: Path, tmp_path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(copy_of(old_db, tmp_path))
    migrate(con)
    yield con
    con.close()


def verified(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], str | None]:
    rows = con.execute("SELECT partition, account_id, verified_on FROM ratings").fetchall()
    return {(p, a): v for p, a, v in rows}


def test_called_rows_get_their_day_and_carried_rows_the_day_they_were_confirmed(migrated) -> None:
    assert verified(migrated) == {
        # Day 1: every row called.
        ("2026-11-20", "A1"): "2026-11-20", ("2026-11-20", "A2"): "2026-11-20",
        ("2026-11-20", "A3"): "2026-11-20", ("2026-11-20", "A4"): "2026-11-20",
        # Day 2: A1 and A3 carried from day 1; A2 (AMS changed) and A4 (Failed on day 1) called.
        ("2026-11-21", "A1"): "2026-11-20", ("2026-11-21", "A3"): "2026-11-20",
        ("2026-11-21", "A2"): "2026-11-21", ("2026-11-21", "A4"): "2026-11-21",
        # Day 3: everything carried; each row keeps the date of the call behind it (two days back).
        ("2026-11-22", "A1"): "2026-11-20", ("2026-11-22", "A3"): "2026-11-20",
        ("2026-11-22", "A2"): "2026-11-21", ("2026-11-22", "A4"): "2026-11-21",
        # The unfinished day's called row.
        ("2026-11-23", "A1"): "2026-11-23",
    }
    assert migrated.execute("SELECT max(version) FROM schema_meta").fetchone()[0] == SCHEMA_VERSION == 3
    assert migrated.execute("SELECT count(*) FROM carry_checks").fetchone()[0] == 0


def test_migrating_again_changes_nothing(migrated) -> None:
    before = verified(migrated)
    migrate(migrated)
    assert verified(migrated) == before


def test_a_carried_row_whose_source_day_is_gone_stays_unknown_and_is_called(old_db: Path, tmp_path: Path) -> None:
    con = duckdb.connect(copy_of(old_db, tmp_path))
    for table in ("ratings", "ratings_partitions", "accounts"):  # as retention removes a day
        con.execute(f"DELETE FROM {table} WHERE partition = '2026-11-20'")
    migrate(con)
    assert verified(con)[("2026-11-21", "A1")] is None  # carried from the removed day
    assert verified(con)[("2026-11-22", "A1")] is None  # and so its copy
    assert verified(con)[("2026-11-22", "A2")] == "2026-11-21"
    con.close()


def test_a_version_1_database_with_primary_keys_is_migrated_in_one_go(old_db: Path, tmp_path: Path) -> None:
    """Version 1 had PRIMARY KEY (partition, account_id) on accounts and ratings: the copy into
    the unkeyed tables goes by column name and the new rows get their Verified On."""
    con = duckdb.connect(copy_of(old_db, tmp_path))
    for table in ("accounts", "ratings"):
        con.execute(f"CREATE TABLE {table}_keyed AS SELECT * FROM {table}")
        con.execute(f"DROP TABLE {table}")
        columns = ", ".join(f"{name} {kind}" for name, kind in con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index",
            [f"{table}_keyed"]).fetchall())
        con.execute(f"CREATE TABLE {table} ({columns}, PRIMARY KEY (partition, account_id))")
        con.execute(f"INSERT INTO {table} SELECT * FROM {table}_keyed")
        con.execute(f"DROP TABLE {table}_keyed")
    migrate(con)
    assert verified(con)[("2026-11-22", "A2")] == "2026-11-21"
    assert con.execute("""SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'ratings'
                          AND constraint_type = 'PRIMARY KEY'""").fetchone()[0] == 0
    con.close()
