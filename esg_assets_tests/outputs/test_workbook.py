"""The business users' workbook (§3e), read back with openpyxl: one sheet `Ratings`, the CSV's
header and rows in order, text cells for IDs, names, focus, status and N/A (a hostile name is
text, never a formula), scores as numbers formatted `0.00`, Analysis Date a `yyyy-mm-dd` date,
the header frozen and filterable."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime

import openpyxl
from openpyxl.utils.escape import unescape

from esg_assets.domain.csv_format import RATINGS_HEADER
from esg_assets.outputs.workbook import workbook_chunks
from esg_assets_tests.support.rows import HOSTILE_NAMES, sample_rows

TEXT_COLUMNS = (0, 1, 6, 9)


def text(value: str) -> str:
    """A string cell as Excel shows it: OOXML writes a CR as `_x000D_`, which openpyxl's
    reader leaves escaped."""
    return unescape(value)

SCORE_COLUMNS = (2, 3, 4, 5, 7)
DATE_COLUMN = 8


def _book(rows: list[list[str]]) -> bytes:
    return b"".join(workbook_chunks(rows))


def test_one_sheet_with_the_csv_header_and_rows_in_order() -> None:
    rows = sample_rows()
    book = openpyxl.load_workbook(io.BytesIO(_book(rows)))
    assert book.sheetnames == ["Ratings"]
    sheet = book["Ratings"]
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert tuple(values[0]) == RATINGS_HEADER
    assert [r[0] for r in values[1:]] == [r[0] for r in rows]
    assert sheet.max_row == len(rows) + 1 and sheet.max_column == 10


def test_cell_types_and_formats() -> None:
    rows = sample_rows()
    sheet = openpyxl.load_workbook(io.BytesIO(_book(rows)))["Ratings"]
    for r, fields in enumerate(rows, 2):
        for c, field in enumerate(fields):
            cell = sheet.cell(row=r, column=c + 1)
            if field == "N/A" or c in TEXT_COLUMNS:
                assert cell.data_type == "s" and text(cell.value) == field, (r, c, cell.value)
            elif c in SCORE_COLUMNS:
                assert cell.data_type == "n" and cell.number_format == "0.00", (r, c)
                assert f"{cell.value:.2f}" == field
            else:
                assert c == DATE_COLUMN and cell.is_date and cell.number_format == "yyyy-mm-dd"
                assert cell.value == datetime.fromisoformat(field)


def test_hostile_names_stay_text_never_formulas() -> None:
    data = _book(sample_rows())
    sheet = openpyxl.load_workbook(io.BytesIO(data))["Ratings"]
    names = [sheet.cell(row=r, column=2) for r in range(2, len(HOSTILE_NAMES) + 2)]
    assert [text(c.value) for c in names] == list(HOSTILE_NAMES)
    assert all(c.data_type == "s" for c in names)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert "<f>" not in archive.read("xl/worksheets/sheet1.xml").decode("utf-8")


def test_header_frozen_and_filterable() -> None:
    rows = sample_rows()
    sheet = openpyxl.load_workbook(io.BytesIO(_book(rows)))["Ratings"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:J{len(rows) + 1}"


def test_an_empty_day_is_a_header_only_workbook() -> None:
    sheet = openpyxl.load_workbook(io.BytesIO(_book([])))["Ratings"]
    assert [tuple(r) for r in sheet.iter_rows(values_only=True)] == [RATINGS_HEADER]


def test_the_workbook_never_touches_the_disk_in_plain(settings, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import os
    import tempfile
    from pathlib import Path

    from esg_assets.storage.factory import open_store

    work, tmp = tmp_path / "cwd", tmp_path / "tmp"
    work.mkdir()
    tmp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))

    def no_temp_files(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("a temporary file would hold plain rows")

    # xlsxwriter's streaming mode and its on-disk packager both go through these.
    for name in ("mkstemp", "TemporaryFile", "NamedTemporaryFile", "mkdtemp"):
        monkeypatch.setattr(tempfile, name, no_temp_files)
    store = open_store(settings)
    store.write("FirmESGRatings_20261127.xlsx", workbook_chunks(sample_rows()))
    assert os.listdir(work) == [] and os.listdir(tmp) == []
    on_disk = [p.name for p in Path(settings.output_dir).rglob("*") if p.is_file()]
    assert on_disk == ["FirmESGRatings_20261127.xlsx.enc"]
    book = openpyxl.load_workbook(io.BytesIO(b"".join(store.read("FirmESGRatings_20261127.xlsx"))))
    assert book.sheetnames == ["Ratings"]


def test_the_rows_stream_instead_of_piling_up_in_memory() -> None:
    """Python's peak allocation for 8,000 rows stays a few MB: xlsxwriter's
    in-memory table, the first design, peaked at 38 MB for 15,000 rows (about 2.4 KB a row)."""
    import tracemalloc

    template = sample_rows()[0]
    rows = ([f"ACC-{i:07d}", f"Harbor Growth Fund {i} Zoë", *template[2:]] for i in range(8_000))
    tracemalloc.start()
    try:
        size = sum(len(chunk) for chunk in workbook_chunks(rows))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size > 200_000
    assert peak < 6 * 1024 * 1024, peak
