"""`FirmESGRatings_YYYYMMDD.parquet` (docs/spec.md#parquet), written by DuckDB natively and
streamed into the encrypting store without any plain byte touching the disk.

How: the ratings CSV itself (the fields of `domain.rows.rating_fields` in the CSV dialect of
`domain.csv_format`, so the values and the N/A rule are the CSV's own) goes to DuckDB through one
OS pipe; DuckDB's `COPY ... (FORMAT parquet)` writes the file into a second pipe, whose bytes are
handed to `Store.write` as they come. Pipes hold at most 64 KiB in the kernel and never reach a
file system. The in-memory connection has spilling turned off (`temp_directory` empty), so a
query that outgrew its memory limit fails instead of spilling plain rows to disk, and the row
count DuckDB reports is checked against the rows sent.

We chose pipes over a `BytesIO` because DuckDB can only write to a path (or its own file system),
and over a temporary file because that would be plaintext at rest. The rows go in as CSV, not JSON
lines: DuckDB 1.5.5's JSON reader keeps what it read from a pipe (out of memory at 1,000,000 rows
under the limit). Measured peak RSS over the process's baseline: 48 MB at 100,000 rows, 143 MB at
1,000,000 (one row group of 100,000 rows plus about 50 MB per million rows that DuckDB's CSV
reader keeps on a pipe); past about 3,000,000 rows `_MEMORY_LIMIT` must be raised.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import duckdb

from esg_assets.catalog import PARTITION_DATE, RATINGS_COLUMNS
from esg_assets.domain.csv_format import RATINGS_HEADER, encode_lines
from esg_assets.domain.rounding import NOT_AVAILABLE

_READ = 1 << 16
_MEMORY_LIMIT = "256MB"
# Rows per Parquet row group: DuckDB holds one in memory while writing it.
_ROW_GROUP = 100_000
# Bytes of CSV DuckDB reads at a time (its default, 32 MB, is held two or three times over);
# a line (one account) may be up to a quarter of it.
_CSV_BUFFER = 8 << 20


class ParquetWriteError(RuntimeError):
    """DuckDB or the row source failed: the stream is incomplete and must not be stored."""


def _select_sql(source: str) -> str:
    """Typed columns from the CSV's text fields: N/A becomes NULL, decimals and dates are cast
    exactly (the fields are already rounded to two places, so the cast changes no digit). The
    reader's dialect is the file's, fixed (no sniffing; `new_line` is left out because DuckDB
    1.5.5 with it and `strict_mode` reads no row at all, silently); it reads an empty unquoted
    field as NULL, which for the text columns is the empty text it was."""
    out = []
    for i, col in enumerate(RATINGS_COLUMNS):
        field = f"f{i}"
        if col.name in ("account_id", "account_name", "processing_status"):
            out.append(f"coalesce({field}, '') AS {col.name}")  # never N/A-mapped: a name may be the text N/A
        else:
            typed = f"NULLIF({field}, '{NOT_AVAILABLE}')"
            out.append(f"{typed} AS {col.name}" if col.type == "VARCHAR" else f"CAST({typed} AS {col.type}) AS {col.name}")
    out.append(f"CAST($partition AS DATE) AS {PARTITION_DATE.name}")
    columns = ", ".join(f"'f{i}': 'VARCHAR'" for i in range(len(RATINGS_COLUMNS)))
    return (f"SELECT {', '.join(out)} FROM read_csv('{source}', header=true, delim=',', quote='\"', escape='\"', "
            f"auto_detect=false, strict_mode=true, parallel=false, allow_quoted_nulls=false, buffer_size={_CSV_BUFFER}, "
            f"encoding='utf-8', columns={{{columns}}})")


class _Feeder(threading.Thread):
    """Writes the rows as the ratings CSV into the input pipe; remembers how many and any error."""

    def __init__(self, fd: int, rows: Iterable[Sequence[str]]):
        super().__init__(name="parquet-feeder", daemon=True)
        self.fd, self.rows, self.count, self.error = fd, rows, 0, None

    def _counted(self) -> Iterator[Sequence[str]]:
        for row in self.rows:
            self.count += 1
            yield row

    def run(self) -> None:
        try:
            with os.fdopen(self.fd, "wb") as pipe:
                for chunk in encode_lines(RATINGS_HEADER, self._counted()):
                    pipe.write(chunk)
        except BrokenPipeError:
            pass  # DuckDB stopped reading: its own error is the one reported
        except BaseException as err:  # noqa: BLE001 - handed to the consumer, which raises it
            self.error = err


class _Copy(threading.Thread):
    """Runs DuckDB's COPY from the input pipe to the output pipe; remembers rows or error."""

    def __init__(self, sql: str, partition: str, out_fd: int):
        super().__init__(name="parquet-copy", daemon=True)
        self.sql, self.partition, self.out_fd = sql, partition, out_fd
        self.rows: int | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            con = duckdb.connect(":memory:", config={"memory_limit": _MEMORY_LIMIT, "threads": 1, "temp_directory": ""})
            try:
                row = con.execute(self.sql, {"partition": self.partition}).fetchone()
                self.rows = int(row[0]) if row else 0
            finally:
                con.close()
        except BaseException as err:  # noqa: BLE001 - handed to the consumer, which raises it
            self.error = err
        finally:
            os.close(self.out_fd)  # end of file for the consumer, whatever happened


def parquet_chunks(rows: Iterable[Sequence[str]], partition: str, on_rows: Callable[[int], Any] | None = None) -> Iterator[bytes]:
    """The Parquet file of `rows` (the ratings CSV's fields, in order) as byte chunks.

    The generator raises ParquetWriteError before its end if anything failed, so a store
    consuming it never keeps a truncated file; `on_rows` receives the row count DuckDB wrote."""
    in_read, in_write = os.pipe()
    out_read, out_write = os.pipe()
    sql = f"COPY ({_select_sql(f'/dev/fd/{in_read}')}) TO '/dev/fd/{out_write}' (FORMAT parquet, ROW_GROUP_SIZE {_ROW_GROUP})"
    feeder, copy = _Feeder(in_write, rows), _Copy(sql, partition, out_write)
    feeder.start()
    copy.start()
    try:
        with os.fdopen(out_read, "rb", buffering=0) as pipe:
            while chunk := pipe.read(_READ):
                yield chunk
        copy.join()
    finally:
        # Unblocks the feeder if DuckDB (or our consumer) stopped before reading every row.
        os.close(in_read)
        feeder.join()
        copy.join()
    if feeder.error is not None:
        raise ParquetWriteError(f"reading the rows failed: {type(feeder.error).__name__}: {feeder.error}")
    if copy.error is not None:
        raise ParquetWriteError(f"DuckDB could not write the Parquet file: {copy.error}")
    if copy.rows != feeder.count:
        raise ParquetWriteError(f"DuckDB wrote {copy.rows} rows of {feeder.count}")
    if on_rows is not None:
        on_rows(copy.rows)
