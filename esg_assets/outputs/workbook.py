"""`FirmESGRatings_YYYYMMDD.xlsx`, the business users' copy (docs/spec.md#workbook).

xlsxwriter writes the workbook in its streaming mode (each finished row's XML is handed on at
once), but nothing it makes touches the disk: its streaming mode would keep the rows in a
plaintext temporary file, so the sheet class given to it (`worksheet_class`, the library's hook
for that) keeps them compressed in memory instead (about 1/15 of the XML), and the rest of the
workbook is built `in_memory`. The finished package is then copied entry by entry into the
output zip, the rows decompressed straight into the sheet's entry, and handed to the store in
chunks. Peak memory: the compressed rows and the compressed workbook (docs/benchmarks.md),
instead of about 2.4 KB a row for xlsxwriter's in-memory table.

Text is written with `write_string` and the workbook never turns strings into formulas, numbers
or links, so a name such as `=HYPERLINK(...)` stays the text it is in the CSV. The sheet class
overrides four private methods of xlsxwriter 3.3.1 (pinned; esg_assets_tests/outputs checks the
result).
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import date

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from esg_assets.catalog import RATINGS_COLUMNS, SCORE_NAMES
from esg_assets.domain.csv_format import RATINGS_HEADER
from esg_assets.domain.rounding import NOT_AVAILABLE

SHEET = "Ratings"
SCORE_FORMAT = "0.00"
DATE_FORMAT = "yyyy-mm-dd"
_SHEET_PART = "xl/worksheets/sheet1.xml"
_MARK = "<!--esg-rows-->"  # where the rows go in the sheet part; user text is escaped, never this
_FLUSH = 1 << 16
_CHUNK = 1 << 20
_OPTIONS = {
    "in_memory": True,
    "strings_to_formulas": False,
    "strings_to_numbers": False,
    "strings_to_urls": False,
}
# Column widths in characters, so the header and the usual values are readable on opening.
_WIDTHS = (13, 40, 18, 19, 13, 17, 18, 19, 13, 18)


class _CompressedRows:
    """Where the streaming sheet writes each finished row's XML: zlib-compressed in memory."""

    def __init__(self) -> None:
        self._zip = zlib.compressobj(6)
        self._parts: list[bytes] = []
        self._pending: list[str] = []
        self._size = 0

    def write(self, text: str) -> None:
        self._pending.append(text)
        self._size += len(text)
        if self._size >= _FLUSH:
            self._compress()

    def _compress(self) -> None:
        data = "".join(self._pending).encode("utf-8")
        self._pending, self._size = [], 0
        if out := self._zip.compress(data):
            self._parts.append(out)

    def chunks(self) -> Iterator[bytes]:
        """The rows' XML, decompressed part by part (each part freed once handed on)."""
        self._compress()
        self._parts.append(self._zip.flush())
        unzip = zlib.decompressobj()
        self._parts.reverse()
        while self._parts:
            yield unzip.decompress(self._parts.pop())
        yield unzip.flush()


class _StreamedSheet(Worksheet):
    """xlsxwriter's streaming (`constant_memory`) worksheet with its row file kept in memory."""

    def _initialize(self, init_data: dict) -> None:
        super()._initialize(init_data)  # in_memory: no temporary file is made
        self.constant_memory = True
        self.rows = _CompressedRows()
        self.row_data_fh = self.fh = self.rows
        self.row_data_fh_closed = False

    def _opt_close(self) -> None:
        self.row_data_fh_closed = True

    def _opt_reopen(self) -> None:
        self.row_data_fh = self.fh = self.rows
        self.row_data_fh_closed = False

    def _write_optimized_sheet_data(self) -> None:
        if self.dim_rowmin is None:
            self._xml_empty_tag("sheetData")
        else:
            self._xml_start_tag("sheetData")
            self.fh.write(_MARK)
            self._xml_end_tag("sheetData")


class WorkbookBuilder:
    """The workbook filled one row at a time (`add`, the ratings CSV's fields), then `chunks`:
    so one reading of the day can feed it beside the CSV and the Parquet file."""

    def __init__(self) -> None:
        self._package = io.BytesIO()
        self._book = xlsxwriter.Workbook(self._package, _OPTIONS)
        self._sheet = sheet = self._book.add_worksheet(SHEET, worksheet_class=_StreamedSheet)
        self._score = self._book.add_format({"num_format": SCORE_FORMAT})
        self._day = self._book.add_format({"num_format": DATE_FORMAT})
        self._kinds = ["score" if c.name in SCORE_NAMES else "date" if c.type == "DATE" else "text" for c in RATINGS_COLUMNS]
        self._last = 0
        bold = self._book.add_format({"bold": True})
        sheet.freeze_panes(1, 0)
        for col, (title, width) in enumerate(zip(RATINGS_HEADER, _WIDTHS)):
            sheet.set_column(col, col, width)
            sheet.write_string(0, col, title, bold)

    def add(self, row: Sequence[str]) -> None:
        self._last += 1
        last, sheet = self._last, self._sheet
        for col, (value, kind) in enumerate(zip(row, self._kinds)):
            if value == NOT_AVAILABLE or kind == "text":
                sheet.write_string(last, col, value)
            elif kind == "score":
                # The CSV's rounded value; a float holds two decimals exactly enough for display.
                sheet.write_number(last, col, float(value), self._score)
            else:
                sheet.write_datetime(last, col, date.fromisoformat(value), self._day)

    def chunks(self) -> Iterator[bytes]:
        """The finished workbook as byte chunks (call once, after the last `add`)."""
        self._sheet.autofilter(0, 0, self._last, len(RATINGS_HEADER) - 1)
        self._book.close()
        yield from _packaged(self._package, self._sheet)


def workbook_chunks(rows: Iterable[Sequence[str]]) -> Iterator[bytes]:
    """The workbook of `rows` (the ratings CSV's fields, in order) as byte chunks."""
    builder = WorkbookBuilder()
    for row in rows:
        builder.add(row)
    yield from builder.chunks()


def _packaged(package: io.BytesIO, sheet: _StreamedSheet) -> Iterator[bytes]:
    """xlsxwriter's package with the sheet's rows put in their place."""
    # A seekable output, so the zip has no data descriptors (sizes in every local header, as
    # Excel writes them); it holds the compressed workbook, about 40 bytes a row.
    out = io.BytesIO()
    with zipfile.ZipFile(package) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename != _SHEET_PART:
                target.writestr(info, data)
                continue
            head, _, tail = data.decode("utf-8").partition(_MARK)
            with target.open(info, "w") as entry:
                entry.write(head.encode("utf-8"))
                for chunk in sheet.rows.chunks():
                    entry.write(chunk)
                entry.write(tail.encode("utf-8"))
    package.close()
    view = out.getbuffer()
    try:
        for start in range(0, len(view), _CHUNK):
            yield bytes(view[start:start + _CHUNK])
    finally:
        view.release()
