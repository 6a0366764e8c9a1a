"""The stored files of each partition as they were written: the manifest's entries.

Each step records the files it wrote (plain size, SHA-256, data records) in the same state
database as the rows they came from, so `daily_summary` can write the manifest without reading
back (and re-auditing) every file, and a step that failed half-way leaves the entries of the
files it did write, never stale ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from esg_assets.clock import utc_text


@dataclass(frozen=True)
class FileEntry:
    name: str
    bytes: int
    sha256: str
    rows: int | None  # data records of the CSVs and the Parquet file; None for the others


def record_file(con: duckdb.DuckDBPyConnection, partition: str, entry: FileEntry, run_id: str) -> None:
    """Replace the partition's entry for this file."""
    written = utc_text()
    con.execute(
        "INSERT OR REPLACE INTO output_files VALUES (?, ?, ?, ?, ?, ?, ?)",
        [partition, entry.name, entry.bytes, entry.sha256, entry.rows, run_id, written],
    )


def forget_file(con: duckdb.DuckDBPyConnection, partition: str, name: str) -> None:
    con.execute("DELETE FROM output_files WHERE partition = ? AND name = ?", [partition, name])


def partition_files(con: duckdb.DuckDBPyConnection, partition: str) -> dict[str, FileEntry]:
    """The recorded files of the partition, by logical name."""
    rows = con.execute(
        "SELECT name, bytes, sha256, rows FROM output_files WHERE partition = ? ORDER BY name", [partition]
    ).fetchall()
    return {r[0]: FileEntry(r[0], int(r[1]), r[2], None if r[3] is None else int(r[3])) for r in rows}
