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
from typing import Any, BinaryIO

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


class ParquetPipe:
    """One Parquet file fed with the ratings CSV's bytes as they are made (`send`), read as
    Parquet bytes on another thread (`chunks`).

    `chunks` ends only once the feeding side said how it ended: `release(rows)` after the last
    byte (the file is checked to hold `rows` rows), or `abort(reason)`, which makes `chunks`
    raise so the store keeps nothing. Holding the end until then also lets the caller choose
    when the file is stored, relative to its other files (day_files: after the CSVs)."""

    def __init__(self, partition: str):
        self._in_read, in_write = os.pipe()
        self._out_read, out_write = os.pipe()
        sql = f"COPY ({_select_sql(f'/dev/fd/{self._in_read}')}) TO '/dev/fd/{out_write}' (FORMAT parquet, ROW_GROUP_SIZE {_ROW_GROUP})"
        self._sink: BinaryIO | None = os.fdopen(in_write, "wb")
        self._copy = _Copy(sql, partition, out_write)
        self._copy.start()
        self._ended = threading.Event()
        self._rows: int | None = None
        self._abort: str | None = None

    def send(self, data: bytes) -> bool:
        """Hand on CSV bytes; False once DuckDB stopped reading (its error is reported by
        `chunks`): later bytes are dropped."""
        if self._sink is None:
            return False
        try:
            self._sink.write(data)
        except BrokenPipeError:
            self._close_input()
            return False
        return True

    def tee(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """The chunks unchanged, each also sent to DuckDB."""
        for chunk in chunks:
            self.send(chunk)
            yield chunk

    def _close_input(self) -> None:
        sink, self._sink = self._sink, None
        if sink is not None:
            try:
                sink.close()
            except BrokenPipeError:
                pass

    def release(self, rows: int) -> None:
        """Every row was sent: end of input for DuckDB, and `chunks` may end."""
        self._rows = rows
        self._close_input()
        self._ended.set()

    def abort(self, reason: str) -> None:
        """The rows stopped before their end: `chunks` raises instead of ending."""
        self._abort = reason
        self._close_input()
        self._ended.set()

    def chunks(self) -> Iterator[bytes]:
        """The Parquet bytes DuckDB writes; raises ParquetWriteError before the end if anything failed."""
        try:
            with os.fdopen(self._out_read, "rb", buffering=0) as pipe:
                while chunk := pipe.read(_READ):
                    yield chunk
            self._copy.join()
        finally:
            # A feeder still writing gets EPIPE (not a block) once DuckDB let go of its end.
            os.close(self._in_read)
        self._ended.wait()
        if self._abort is not None:
            raise ParquetWriteError(f"reading the rows failed: {self._abort}")
        if self._copy.error is not None:
            raise ParquetWriteError(f"DuckDB could not write the Parquet file: {self._copy.error}")
        if self._copy.rows != self._rows:
            raise ParquetWriteError(f"DuckDB wrote {self._copy.rows} rows of {self._rows}")


def parquet_chunks(rows: Iterable[Sequence[str]], partition: str, on_rows: Callable[[int], Any] | None = None) -> Iterator[bytes]:
    """The Parquet file of `rows` (the ratings CSV's fields, in order) as byte chunks, the rows
    read on a thread of their own; `on_rows` receives the row count DuckDB wrote."""
    pipe = ParquetPipe(partition)
    count = 0

    def counted() -> Iterator[Sequence[str]]:
        nonlocal count
        for row in rows:
            count += 1
            yield row

    def feed() -> None:
        try:
            for chunk in encode_lines(RATINGS_HEADER, counted()):
                if not pipe.send(chunk):
                    break
        except BaseException as err:  # noqa: BLE001 - handed to the consumer, which raises it
            pipe.abort(f"{type(err).__name__}: {err}")
        else:
            pipe.release(count)

    feeder = threading.Thread(target=feed, name="parquet-feeder", daemon=True)
    feeder.start()
    try:
        yield from pipe.chunks()
    finally:
        feeder.join()
    if on_rows is not None:
        on_rows(count)
