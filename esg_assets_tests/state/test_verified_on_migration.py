"""Schema 2 -> 3 (contract 1.1): a state database written by the code before Verified On
existed gets one, once. The database is written by that code itself (its files taken from
the repository's history into a temporary directory and run in a subprocess), then opened by
this code's `migrate`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from esg_assets.state.schema import SCHEMA_VERSION, migrate

REPO = Path(__file__).resolve().parents[2]
# The last commit before schema version 3: its state code is "today's code" for this test.
BEFORE_VERIFIED_ON = "050e167"

WRITE_WITH_OLD_CODE = textwrap.dedent('''
    import sys
    from datetime import datetime, timezone
    import duckdb
    import esg_assets
    assert esg_assets.__file__.startswith(sys.argv[2]), esg_assets.__file__
    from esg_assets.domain.models import Account, AccountResult, EsgAnalysis, Status
    from esg_assets.state import accounts_repo, ratings_repo as repo
    from esg_assets.state.schema import migrate

    AT = datetime(2026, 11, 20, 11, tzinfo=timezone.utc)
    con = duckdb.connect(sys.argv[1])
    migrate(con)

    def day(partition, updated, called, failed=()):
        accounts = [Account(a, "Name " + a, updated.get(a, "2026-01-01T00:00:00Z")) for a in "A1 A2 A3 A4".split()]
        accounts_repo.replace_accounts(con, partition, [accounts])
        repo.begin_fresh(con, partition, "run-" + partition)
        previous = repo.previous_completed(con, partition)
        if previous is not None:
            repo.load_feed(con, [[]])
            repo.carry_forward(con, partition, previous[0], "2000-01-01", [], "run-" + partition)
        results = []
        for a in called:
            if a in failed:
                results.append(AccountResult(a, Status.FAILED, None, 3, None, 500, "boom", AT))
            else:
                analysis = EsgAnalysis(a, "2026-03-01", *(["70.5"] * 4), "Social", "70.5")
                results.append(AccountResult(a, Status.SUCCESSFUL, analysis, 1, None, None, None, AT))
        repo.save_results(con, partition, "run-" + partition, results)

    day("2026-11-20", {}, ["A1", "A2", "A3", "A4"], failed={"A4"})
    repo.set_fetch_started(con, "2026-11-20", "2026-11-20T11:00:00.000000Z")
    repo.mark_completed(con, "2026-11-20", "2026-11-20T11:05:00Z")
    day("2026-11-21", {"A2": "2026-11-21T08:00:00Z"}, ["A2", "A4"])
    repo.set_fetch_started(con, "2026-11-21", "2026-11-21T11:00:00.000000Z")
    repo.mark_completed(con, "2026-11-21", "2026-11-21T11:05:00Z")
    day("2026-11-22", {"A2": "2026-11-21T08:00:00Z"}, [])
    repo.mark_completed(con, "2026-11-22", "2026-11-22T11:05:00Z")
    # 11-23 died after its first result: an unfinished day.
    accounts_repo.replace_accounts(con, "2026-11-23", [[Account("A1", "Name A1", "2026-01-01T00:00:00Z")]])
    repo.begin_fresh(con, "2026-11-23", "run-2026-11-23")
    repo.save_results(con, "2026-11-23", "run-2026-11-23", [AccountResult(
        "A1", Status.SUCCESSFUL, EsgAnalysis("A1", "2026-03-01", *(["70.5"] * 4), "Social", "70.5"), 1, None, None, None, AT)])
    print(con.execute("SELECT max(version) FROM schema_meta").fetchone()[0])
    con.close()
''')


def write_with_old_code(tmp_path: Path) -> Path:
    old = tmp_path / "old"
    old.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", BEFORE_VERIFIED_ON, "esg_assets"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
    db = tmp_path / "state.duckdb"
    done = subprocess.run([sys.executable, "-c", WRITE_WITH_OLD_CODE, str(db), str(old)],
                          env={"PYTHONPATH": str(old), "PATH": "/usr/bin:/bin"}, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2"  # written in schema version 2
    return db


@pytest.fixture(scope="module")
def old_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Written once by the old code; each test migrates its own copy."""
    return write_with_old_code(tmp_path_factory.mktemp("old"))


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
