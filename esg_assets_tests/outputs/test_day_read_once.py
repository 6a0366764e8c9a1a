"""`write_rating_files` reads the day once for the ratings CSV, the Parquet file and the
workbook (issue 16), stores them in the order ratings, errors, Parquet, workbook, and keeps no
Parquet file when anything fails while the three are written together (a real state database,
the real local store, DuckDB's real Parquet pipe)."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import openpyxl
import pytest

from esg_assets.outputs import day_files
from esg_assets.outputs.parquet import ParquetWriteError
from esg_assets.settings import StorageSettings
from esg_assets.state import report_queries
from esg_assets.state.db import connect
from esg_assets.storage import audit
from esg_assets.storage.factory import open_store
from esg_assets_tests.pipeline.oracle import parse_csv

PARTITION = "2026-11-27"
YMD = PARTITION.replace("-", "")
# More than one of the CSV writer's chunks (5,000 lines): DuckDB has read part of the day
# when the last row fails.
ACCOUNTS = 6_000


def _day(con: duckdb.DuckDBPyConnection, accounts: int, *, without_result: str | None = None,
         overall: dict[str, str] | None = None) -> None:
    """Active accounts with results (1 in 7 Failed): `without_result` has none, `overall` overrides scores."""
    con.execute("INSERT INTO accounts SELECT $p, printf('ACC-%07d', i), 'Firm, ' || i, '2026-11-26T00:00:00Z' "
                "FROM range($n) t(i)", {"p": PARTITION, "n": accounts})
    con.execute(
        """INSERT INTO ratings SELECT $p, printf('ACC-%07d', i),
             CASE WHEN i % 7 = 0 THEN 'Failed' ELSE 'Successful' END,
             CASE WHEN i % 7 = 0 THEN NULL ELSE printf('%.4f', (i % 10000) / 100.0) END,
             '50.125', '60', '70.5', 'Social', '60', '2026-11-26', 'api', '2026-11-26T00:00:00Z',
             CASE WHEN i % 7 = 0 THEN 4 ELSE 1 END, CASE WHEN i % 7 = 0 THEN 'http_5xx' END,
             CASE WHEN i % 7 = 0 THEN 503 END, CASE WHEN i % 7 = 0 THEN 'HTTP 503' END,
             '2026-11-27T05:00:00Z', 'run-1', NULL
           FROM range($n) t(i)""", {"p": PARTITION, "n": accounts})
    if without_result:
        con.execute("DELETE FROM ratings WHERE account_id = ?", [without_result])
    for account, value in (overall or {}).items():
        con.execute("UPDATE ratings SET overall = ? WHERE account_id = ?", [value, account])


def _write(settings: StorageSettings, **day: object) -> list[day_files.Written]:
    with connect(settings.state_db, settings.encryption_key_bytes) as con:
        _day(con, ACCOUNTS, **day)  # type: ignore[arg-type]
        return day_files.write_rating_files(con, open_store(settings), PARTITION, "run-1")


def _read(settings: StorageSettings, name: str) -> bytes:
    return b"".join(open_store(settings).read(name))


def _writes(settings: StorageSettings) -> list[tuple[str, str]]:
    return [(r["file"], r["outcome"]) for r in audit.records(settings.audit_log) if r["action"] == "write"]


def test_one_ordered_read_feeds_the_csv_the_parquet_and_the_workbook(
        settings: StorageSettings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    reads = []
    real = report_queries.rating_rows

    def counted(con: duckdb.DuckDBPyConnection, partition: str, chunk: int = report_queries.ORDERED_CHUNK) -> Iterator:
        reads.append(threading.current_thread().name)
        return real(con, partition, chunk)

    monkeypatch.setattr(report_queries, "rating_rows", counted)
    written = _write(settings)
    assert reads == [threading.main_thread().name]  # once, on the thread that owns the connection
    assert [w.kind for w in written] == ["ratings", "errors", "parquet", "xlsx"]
    names = [f"FirmESGRatings_{YMD}.csv", f"FirmESGErrors_{YMD}.csv", f"FirmESGRatings_{YMD}.parquet",
             f"FirmESGRatings_{YMD}.xlsx"]
    assert _writes(settings) == [(n, "ok") for n in names]  # stored and audited in this order

    csv_rows = parse_csv(_read(settings, names[0]))[1:]
    assert len(csv_rows) == ACCOUNTS == written[0].rows == written[2].rows
    assert len(parse_csv(_read(settings, names[1]))) == 1 + len(range(0, ACCOUNTS, 7)) == 1 + (written[1].rows or 0)
    (tmp_path / "day.parquet").write_bytes(_read(settings, names[2]))
    parquet = duckdb.sql(f"SELECT account_id, account_name, processing_status FROM '{tmp_path / 'day.parquet'}'").fetchall()
    assert parquet == [(r[0], r[1], r[9]) for r in csv_rows]
    sheet = openpyxl.load_workbook(io.BytesIO(_read(settings, names[3])), read_only=True)["Ratings"]
    book = [(r[0], r[1], r[9]) for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert book == [(r[0], r[1], r[9]) for r in csv_rows]


def test_a_ratings_file_that_fails_midway_leaves_no_parquet_file(settings: StorageSettings) -> None:
    """The last account has no result: the CSV fails after DuckDB read two chunks of it, which
    would make a valid Parquet file of the rows before; it must not be stored."""
    last = f"ACC-{ACCOUNTS - 1:07d}"
    with pytest.raises(ValueError, match=f"account {last} has no result"):
        _write(settings, without_result=last)
    store = open_store(settings)
    assert not any(store.exists(f"{stem}_{YMD}.{ext}") for stem, ext in
                   (("FirmESGRatings", "csv"), ("FirmESGRatings", "parquet"), ("FirmESGRatings", "xlsx")))
    assert [p.name for p in Path(settings.output_dir).iterdir()] == []
    assert [outcome for name, outcome in _writes(settings) if name.endswith(".parquet")] == ["error"]


def test_a_value_duckdb_refuses_fails_the_parquet_file_and_keeps_the_csvs(settings: StorageSettings) -> None:
    """An early score too large for DECIMAL(5,2): DuckDB stops reading while the CSV goes on to
    its end (no block on the pipe); the CSVs are stored, the Parquet file and the workbook are not."""
    with pytest.raises(ParquetWriteError, match="DuckDB could not write"):
        _write(settings, overall={"ACC-0000003": "1234.5"})
    assert _writes(settings) == [(f"FirmESGRatings_{YMD}.csv", "ok"), (f"FirmESGErrors_{YMD}.csv", "ok"),
                                 (f"FirmESGRatings_{YMD}.parquet", "error")]
    assert len(parse_csv(_read(settings, f"FirmESGRatings_{YMD}.csv"))) == ACCOUNTS + 1


def test_the_ordered_read_holds_a_few_thousand_rows_in_python_not_a_chunk(settings: StorageSettings) -> None:
    """One whole chunk (20,000 rows) read and let go row by row: Python's peak allocation is that
    of `FETCH_ROWS` rows, not of the chunk's 20,000 tuples (about 30 MB of the files step's peak
    RSS at 100,000 accounts, docs/benchmarks.md "Peak RSS, second pass")."""
    import tracemalloc

    with connect(settings.state_db, settings.encryption_key_bytes) as con:
        _day(con, report_queries.ORDERED_CHUNK)
        tracemalloc.start()
        try:
            count = sum(1 for _ in report_queries.rating_rows(con, PARTITION))
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert count == report_queries.ORDERED_CHUNK
    assert peak < 4 * 1024 * 1024, peak


def test_a_query_on_the_connection_while_the_ordered_read_is_pending_leaves_its_rows_whole(
        settings: StorageSettings) -> None:
    """The read's pending result is a cursor's own: the connection's next query does not replace it."""
    with connect(settings.state_db, settings.encryption_key_bytes) as con:
        _day(con, report_queries.FETCH_ROWS * 2 + 1)
        rows = report_queries.rating_rows(con, PARTITION)
        first = next(rows)
        assert con.execute("SELECT count(*) FROM ratings").fetchone() == (report_queries.FETCH_ROWS * 2 + 1,)
        ids = [first.account_id, *(r.account_id for r in rows)]
    assert ids == [f"ACC-{i:07d}" for i in range(report_queries.FETCH_ROWS * 2 + 1)]
