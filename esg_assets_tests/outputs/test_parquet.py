"""The Parquet file (§3c): typed columns, the CSV's rows and order, NULL for N/A; written by
DuckDB through pipes into the encrypting store, with no plain byte on disk, and never stored
incomplete."""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from esg_assets.outputs.parquet import ParquetWriteError, parquet_chunks
from esg_assets.settings import StorageSettings
from esg_assets.storage.factory import open_store
from esg_assets_tests.support.rows import sample_rows

EXPECTED_TYPES = [
    ("account_id", "VARCHAR"), ("account_name", "VARCHAR"), ("overall_score", "DECIMAL(5,2)"),
    ("environmental_score", "DECIMAL(5,2)"), ("social_score", "DECIMAL(5,2)"), ("governance_score", "DECIMAL(5,2)"),
    ("primary_esg_focus", "VARCHAR"), ("primary_focus_score", "DECIMAL(5,2)"), ("analysis_date", "DATE"),
    ("processing_status", "VARCHAR"), ("partition_date", "DATE"),
]


def read_parquet(data: bytes, tmp_path: Path) -> tuple[list[tuple[str, str]], list[tuple]]:
    path = tmp_path / "read-back.parquet"
    path.write_bytes(data)
    con = duckdb.connect()
    rel = con.sql(f"SELECT * FROM read_parquet('{path}')")
    types = list(zip(rel.columns, [str(t) for t in rel.types]))
    return types, rel.fetchall()


def expected(row: list[str], partition: str) -> tuple:
    from datetime import date

    def na(value: str, cast):  # type: ignore[no-untyped-def]
        return None if value == "N/A" else cast(value)

    return (row[0], row[1], *(na(v, Decimal) for v in row[2:6]), na(row[6], str), na(row[7], Decimal),
            na(row[8], date.fromisoformat), row[9], date.fromisoformat(partition))


def test_typed_columns_same_rows_same_order_null_for_na(tmp_path: Path) -> None:
    rows = sample_rows()
    counted: list[int] = []
    types, back = read_parquet(b"".join(parquet_chunks(rows, "2026-11-27", counted.append)), tmp_path)
    assert types == EXPECTED_TYPES
    assert back == [expected(r, "2026-11-27") for r in rows]
    assert counted == [len(rows)]
    # A name that reads N/A is a name, never NULL; a name with CRLF keeps it.
    assert ("ACC-0000004", "N/A") in [(r[0], r[1]) for r in back]


@pytest.mark.parametrize("name", ["", '""', ",", "\n", "\r", '"', "a\r\n\r\nb", "x" * 100_000, "\t lead", "N/A,N/A"])
def test_any_name_comes_back_exactly(name: str, tmp_path: Path) -> None:
    rows = sample_rows()[:3]
    rows[1][1] = name
    _types, back = read_parquet(b"".join(parquet_chunks(rows, "2026-11-27")), tmp_path)
    assert [r[1] for r in back] == [r[1] for r in rows]


def test_rows_keep_their_order_across_row_groups(tmp_path: Path) -> None:
    template = sample_rows()[0]
    rows = [[f"ACC-{i:07d}", f"Name {i}", *template[2:]] for i in range(130_000)]
    _types, back = read_parquet(b"".join(parquet_chunks(iter(rows), "2026-11-27")), tmp_path)
    assert [r[0] for r in back] == [r[0] for r in rows]


def _failing_rows(after: int) -> Iterator[list[str]]:
    yield from sample_rows()[:after]
    raise RuntimeError("state database went away")


def test_a_failing_row_source_stores_nothing(settings: StorageSettings) -> None:
    store = open_store(settings)
    with pytest.raises(ParquetWriteError, match="state database went away"):
        store.write("FirmESGRatings_20261127.parquet", parquet_chunks(_failing_rows(3), "2026-11-27"))
    assert not store.exists("FirmESGRatings_20261127.parquet")
    assert os.listdir(settings.output_dir) == []


def test_a_bad_value_fails_the_copy_and_stores_nothing(settings: StorageSettings) -> None:
    rows = sample_rows()
    rows[2][2] = "not a number"
    store = open_store(settings)
    with pytest.raises(ParquetWriteError, match="DuckDB could not write"):
        store.write("FirmESGRatings_20261127.parquet", parquet_chunks(rows, "2026-11-27"))
    assert os.listdir(settings.output_dir) == []


def test_no_plain_byte_reaches_the_disk(settings: StorageSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The working directory and TMPDIR stay empty and the store holds only ciphertext: the
    Parquet magic and the names appear nowhere on disk, yet the decrypted file is the Parquet."""
    work, tmp = tmp_path / "cwd", tmp_path / "tmp"
    work.mkdir()
    tmp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("TMPDIR", str(tmp))
    store = open_store(settings)
    stored = store.write("FirmESGRatings_20261127.parquet", parquet_chunks(sample_rows(), "2026-11-27"))
    assert os.listdir(work) == [] and os.listdir(tmp) == []
    on_disk = [p for p in Path(settings.output_dir).rglob("*") if p.is_file()]
    assert [p.name for p in on_disk] == ["FirmESGRatings_20261127.parquet.enc"]
    blob = on_disk[0].read_bytes()
    assert b"PAR1" not in blob and "Zoë".encode() not in blob and b"ACC-0000000" not in blob
    plain = b"".join(store.read("FirmESGRatings_20261127.parquet"))
    assert plain[:4] == plain[-4:] == b"PAR1" and len(plain) == stored.size
