"""Writing a partition's files through the store and recording each one for the manifest.

The ratings file, the Parquet file and the workbook are three readings of the same rows
(`domain.rows.rating_fields`): the day is streamed once from the state database in Account ID
order and each row goes to all three, so they hold the same rows in the same order with the same
values.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import duckdb

from esg_assets.domain.csv_format import ERRORS_HEADER, RATINGS_HEADER, encode_lines
from esg_assets.domain.rows import error_fields, rating_fields
from esg_assets.outputs.parquet import ParquetPipe
from esg_assets.outputs.sheet_xml import SheetFull
from esg_assets.outputs.workbook import WorkbookBuilder
from esg_assets.state import report_queries as q
from esg_assets.state.files_repo import FileEntry, forget_file, record_file
from esg_assets.storage.names import logical_name
from esg_assets.storage.store import Store, StoredFile


@dataclass(frozen=True)
class Written:
    kind: str
    stored: StoredFile
    rows: int | None


class _Counter:
    """Counts the records a stream hands on (data records, not lines)."""

    def __init__(self) -> None:
        self.n = 0

    def tap(self, rows: Iterable[list[str]]) -> Iterator[list[str]]:
        for row in rows:
            self.n += 1
            yield row


def store_file(con: duckdb.DuckDBPyConnection, files: Store, partition: str, kind: str, chunks: Iterable[bytes],
               run_id: str, rows: _Counter | None = None) -> Written:
    """Write one file and record its plain size, SHA-256 and rows for the manifest."""
    stored = files.write(logical_name(partition, kind), chunks)
    count = None if rows is None else rows.n
    record_file(con, partition, FileEntry(stored.logical_name, stored.size, stored.sha256, count), run_id)
    return Written(kind, stored, count)


def _withdraw(con: duckdb.DuckDBPyConnection, files: Store, partition: str, kind: str, reason: str) -> None:
    """Delete (audited) and forget one file of the day, if it is there."""
    name = logical_name(partition, kind)
    if files.exists(name):
        files.delete(name, reason)
    forget_file(con, partition, name)


def drop_manifest(con: duckdb.DuckDBPyConnection, files: Store, partition: str) -> None:
    """Remove the day's manifest before its files are rewritten (it is written again last)."""
    _withdraw(con, files, partition, "manifest",
              "the day's files are being rewritten; the manifest is written again after them")


class _Background(threading.Thread):
    """One store write on a thread of its own; `result` joins it and returns or raises."""

    def __init__(self, write: Callable[[], StoredFile]):
        super().__init__(name="day-files-parquet", daemon=True)
        self._write = write
        self._stored: StoredFile | None = None
        self._error: BaseException | None = None

    def run(self) -> None:
        try:
            self._stored = self._write()
        except BaseException as err:  # noqa: BLE001 - raised again by result()
            self._error = err

    def result(self) -> StoredFile:
        self.join()
        if self._error is not None:
            raise self._error
        assert self._stored is not None
        return self._stored


def write_rating_files(con: duckdb.DuckDBPyConnection, files: Store, partition: str, run_id: str) -> list[Written]:
    """The ratings CSV, the error CSV, the Parquet file and the workbook of the partition.

    The day is read once, in Account ID order, on this thread (the only user of `con`): each
    row's fields go to the workbook, each chunk of CSV bytes to the CSV's store write and to
    DuckDB's Parquet pipe, whose file is stored by a second thread meanwhile. The files are
    stored, audited and recorded in the order ratings, errors, Parquet, workbook (the Parquet
    thread holds its last byte until both CSVs are stored). Any failure aborts the Parquet
    file, which is then not kept.

    A day with more rows than Excel's sheet holds still gets its CSVs and Parquet file (the
    system of record comes first); then the day's workbook is withdrawn and `SheetFull` raised:
    the step fails in one line, and with no workbook and no manifest the set is known incomplete."""
    drop_manifest(con, files, partition)
    ratings, errors = _Counter(), _Counter()
    book = WorkbookBuilder()
    parquet = ParquetPipe(partition)
    parquet_name = logical_name(partition, "parquet")
    background = _Background(lambda: files.write(parquet_name, parquet.chunks()))
    background.start()

    overflow: list[SheetFull] = []

    def fields() -> Iterator[list[str]]:
        for row in q.rating_rows(con, partition):
            out = rating_fields(row)
            if not overflow:
                try:
                    book.add(out)
                except SheetFull as err:
                    overflow.append(err)
            yield out

    written = []
    try:
        lines = parquet.tee(encode_lines(RATINGS_HEADER, ratings.tap(fields())))
        written.append(store_file(con, files, partition, "ratings", lines, run_id, ratings))
        error_lines = encode_lines(ERRORS_HEADER, errors.tap(error_fields(r) for r in q.error_rows(con, partition)))
        written.append(store_file(con, files, partition, "errors", error_lines, run_id, errors))
    except BaseException as err:
        parquet.abort(f"the day's other files failed: {type(err).__name__}")
        background.join()
        raise
    parquet.release(ratings.n)
    # The Parquet rows are the ones DuckDB wrote (checked equal to the rows read).
    stored = background.result()
    record_file(con, partition, FileEntry(stored.logical_name, stored.size, stored.sha256, ratings.n), run_id)
    written.append(Written("parquet", stored, ratings.n))
    if overflow:
        _withdraw(con, files, partition, "xlsx", "the day has more rows than the workbook's sheet holds")
        raise overflow[0]
    written.append(store_file(con, files, partition, "xlsx", book.chunks(), run_id))
    return written
