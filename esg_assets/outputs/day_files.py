"""Writing a partition's files through the store and recording each one for the manifest.

The ratings file, the Parquet file and the workbook are three readings of the same rows
(`domain.rows.rating_fields`): each is streamed from the state database in Account ID order, so
they hold the same rows in the same order with the same values.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import duckdb

from esg_assets.domain.csv_format import ERRORS_HEADER, RATINGS_HEADER, encode_lines
from esg_assets.domain.rows import error_fields, rating_fields
from esg_assets.outputs.parquet import parquet_chunks
from esg_assets.outputs.workbook import workbook_chunks
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


def drop_manifest(con: duckdb.DuckDBPyConnection, files: Store, partition: str) -> None:
    """Remove the day's manifest before its files are rewritten (it is written again last)."""
    name = logical_name(partition, "manifest")
    if files.exists(name):
        files.delete(name, "the day's files are being rewritten; the manifest is written again after them")
    forget_file(con, partition, name)


def write_rating_files(con: duckdb.DuckDBPyConnection, files: Store, partition: str, run_id: str) -> list[Written]:
    """The ratings CSV, the error CSV, the Parquet file and the workbook of the partition."""
    drop_manifest(con, files, partition)
    written = []
    ratings, errors, parquet, workbook = _Counter(), _Counter(), _Counter(), _Counter()

    def rows(counter: _Counter) -> Iterator[list[str]]:
        return counter.tap(rating_fields(r) for r in q.rating_rows(con, partition))

    written.append(store_file(con, files, partition, "ratings", encode_lines(RATINGS_HEADER, rows(ratings)), run_id, ratings))
    error_lines = encode_lines(ERRORS_HEADER, errors.tap(error_fields(r) for r in q.error_rows(con, partition)))
    written.append(store_file(con, files, partition, "errors", error_lines, run_id, errors))
    # The Parquet rows are the ones DuckDB wrote (checked equal to the rows read).
    written.append(store_file(con, files, partition, "parquet", parquet_chunks(rows(parquet), partition), run_id, parquet))
    workbook_written = store_file(con, files, partition, "xlsx", workbook_chunks(rows(workbook)), run_id)
    written.append(workbook_written)
    return written
