"""The workbook's rows as XML (`outputs/sheet_xml.py`): what a hand-written sheet writer could get
wrong, read back through openpyxl and a strict XML parser: escaping of `<&>"'` and of control
characters, names that look like markup or like Excel's own `_xHHHH_` escapes, line breaks and
edge white space, N/A cells, dates at Excel's calendar edges, the cell and sheet limits."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile
from datetime import datetime

import openpyxl
import pytest
from openpyxl.utils.escape import unescape

from esg_assets.outputs import sheet_xml
from esg_assets.outputs.sheet_xml import MAX_TEXT_UNITS, RowWriter, SheetFull, excel_day, inline_text
from esg_assets.outputs.workbook import workbook_chunks
from esg_assets_tests.support.rows import sample_rows

NAMES = (
    "<r>Smith & Co</r>",  # xlsxwriter wrote this unescaped, as rich text: the sheet did not parse
    "<r><t>A</t></r><r><t>B</t></r>",
    'a < b > c & "d" \'e\'',
    "]]> end of CDATA",
    "bell\x07 vt\x0b ff\x0c esc\x1b us\x1f nul\x00",
    "cr\r lf\n crlf\r\n tab\t",
    "literal _x0041_ and _X00e9_ escapes",
    "non-characters \ufffe \uffff",
    " leading", "trailing ", "\tboth\t",
    "=1+1", "+SUM(A1)", "-1", "@A1",
)


def _workbook(names: tuple[str, ...] | list[str]) -> bytes:
    template = sample_rows()[0]
    rows = [[f"ACC-{i:07d}", name, *template[2:]] for i, name in enumerate(names)]
    return b"".join(workbook_chunks(rows))


def _sheet_part(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read("xl/worksheets/sheet1.xml")


def test_every_name_is_well_formed_text_as_excel_shows_it() -> None:
    data = _workbook(NAMES)
    ET.fromstring(_sheet_part(data))  # strict: raises on any unescaped markup
    sheet = openpyxl.load_workbook(io.BytesIO(data))["Ratings"]
    cells = [sheet.cell(row=r, column=2) for r in range(2, len(NAMES) + 2)]
    assert all(c.data_type == "s" for c in cells)
    # openpyxl leaves Excel's `_xHHHH_` escapes in place; unescaped, the text is the name.
    assert [unescape(c.value) for c in cells] == list(NAMES)


def test_markup_in_a_name_never_reaches_the_xml() -> None:
    sheet = _sheet_part(_workbook(["<r>Smith & Co</r>", "<f>1+1</f>"])).decode("utf-8")
    assert "<f>" not in sheet and "<r>" not in sheet
    assert "&lt;r&gt;Smith &amp; Co&lt;/r&gt;" in sheet


def test_edge_white_space_is_preserved_and_inner_is_not_marked() -> None:
    assert inline_text(" a") == '<is><t xml:space="preserve"> a</t></is>'
    assert inline_text("a ") == '<is><t xml:space="preserve">a </t></is>'
    assert inline_text("a b") == "<is><t>a b</t></is>"


def test_control_characters_and_literal_escapes() -> None:
    assert inline_text("a\rb") == "<is><t>a_x000D_b</t></is>"
    assert inline_text("_x0041_") == "<is><t>_x005F_x0041_</t></is>"
    assert inline_text("a\nb\tc") == "<is><t>a\nb\tc</t></is>"


def test_a_name_beyond_excels_cell_limit_is_cut_there_never_inside_a_character() -> None:
    long = "🌿" * MAX_TEXT_UNITS  # two UTF-16 units each
    text = inline_text(long)
    kept = text.removeprefix("<is><t>").removesuffix("</t></is>")
    assert kept == "🌿" * (MAX_TEXT_UNITS // 2)
    assert len(inline_text("x" * (MAX_TEXT_UNITS + 5))) == len("<is><t></t></is>") + MAX_TEXT_UNITS


def test_na_cells_are_text_and_scores_keep_the_csv_digits() -> None:
    writer = RowWriter(["text", "score", "date", "label"], 2, 3)
    row = writer.row(["ACC-1", "N/A", "N/A", "N/A"])
    assert row.count('t="inlineStr"><is><t>N/A</t></is>') == 3
    row = writer.row(["ACC-2", "72.46", "2026-11-26", "Successful"])
    assert '<c r="B3" s="2"><v>72.46</v></c>' in row and '<c r="C3" s="3"><v>46352</v></c>' in row


def test_a_score_that_is_not_a_number_is_refused_in_one_line() -> None:
    writer = RowWriter(["text", "score"], 2, 3)
    with pytest.raises(ValueError, match="not a decimal number: '1</v>'"):
        writer.row(["ACC-1", "1</v>"])


@pytest.mark.parametrize("day", ["1900-01-01", "1900-02-28", "1900-03-01", "1999-12-31", "2026-11-26", "9999-12-31"])
def test_dates_are_excels_serial_days(day: str) -> None:
    template = sample_rows()[0]
    row = [*template[:8], day, template[9]]
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(workbook_chunks([row]))))["Ratings"]
    cell = sheet.cell(row=2, column=9)
    assert cell.is_date and cell.value == datetime.fromisoformat(day) and cell.number_format == "yyyy-mm-dd"


def test_a_date_excel_cannot_hold_stays_text() -> None:
    assert excel_day("1899-12-31") is None
    writer = RowWriter(["date"], 2, 3)
    assert 't="inlineStr"><is><t>1899-12-31</t></is>' in writer.row(["1899-12-31"])


def test_a_day_beyond_the_sheet_limit_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    """Excel's 1,048,576 rows, lowered here: writing a million rows is not the test's point."""
    monkeypatch.setattr(sheet_xml, "MAX_ROWS", 3)
    writer = RowWriter(["text"], 2, 3)
    writer.row(["ACC-1"])
    writer.row(["ACC-2"])
    with pytest.raises(SheetFull, match="Excel holds 2 rows below the header, the day has more"):
        writer.row(["ACC-3"])
