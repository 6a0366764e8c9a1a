"""`FirmESGRatings_YYYYMMDD.xlsx`, the business users' copy (docs/spec.md#workbook).

xlsxwriter makes the package (workbook, styles, theme, the sheet's frozen pane, filter and
column widths), `in_memory`, so nothing touches the disk; the rows' XML is written by
`sheet_xml` (xlsxwriter's per-cell calls were three quarters of the step's CPU) and kept
deflated in memory as they come (about 1/11 of the XML); the package is then written entry by
entry as the store takes it (`zip_stream`), the rows' deflated bytes handed on as they are, so
they are compressed once and the workbook is never whole in memory. Peak memory: the compressed
rows (docs/benchmarks.md).

Every text is an inline string, escaped (`sheet_xml`): a name such as `=HYPERLINK(...)` stays the
text it is in the CSV, never a formula. The sheet class overrides three private methods of
xlsxwriter 3.3.1 and `chunks` sets the sheet's dimension through a fourth (pinned;
esg_assets_tests/outputs checks the result).
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from esg_assets.catalog import RATINGS_COLUMNS, SCORE_NAMES
from esg_assets.domain.csv_format import RATINGS_HEADER
from esg_assets.outputs.sheet_xml import RowWriter
from esg_assets.outputs.zip_stream import Deflated, ZipWriter

SHEET = "Ratings"
SCORE_FORMAT = "0.00"
DATE_FORMAT = "yyyy-mm-dd"
_SHEET_PART = "xl/worksheets/sheet1.xml"
_MARK = "<!--esg-rows-->"  # where the rows go in the sheet part; user text is escaped, never this
_FLUSH = 1 << 16
_OPTIONS = {
    "in_memory": True,
    "strings_to_formulas": False,
    "strings_to_numbers": False,
    "strings_to_urls": False,
}
# Column widths in characters, so the header and the usual values are readable on opening.
_WIDTHS = (13, 40, 18, 19, 13, 17, 18, 19, 13, 18)
_ONE_OF_A_KIND = ("account_id", "account_name")


class _CompressedRows:
    """The rows' XML as it comes, raw-deflated in memory: the middle piece of the sheet's zip
    entry (`zip_stream`), so it is compressed once and never decompressed here."""

    def __init__(self) -> None:
        self._zip = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.piece = Deflated()
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
        self.piece.size += len(data)
        self.piece.crc = zlib.crc32(data, self.piece.crc)
        self.piece.add(self._zip.compress(data))

    def finished(self) -> Deflated:
        """The piece, ended with a sync flush so the part after the rows can follow it."""
        self._compress()
        self.piece.add(self._zip.flush(zlib.Z_SYNC_FLUSH))
        return self.piece


class _RowsSheet(Worksheet):
    """xlsxwriter's streaming (`constant_memory`) worksheet whose rows are written elsewhere
    (`sheet_xml`): its part gets a mark where the rows go, and no temporary file is made."""

    def _initialize(self, init_data: dict) -> None:
        super()._initialize(init_data)  # in_memory: no temporary file is made
        self.constant_memory = True

    def _opt_close(self) -> None:
        pass

    def _opt_reopen(self) -> None:
        pass

    def _write_optimized_sheet_data(self) -> None:
        self._xml_start_tag("sheetData")
        self.fh.write(_MARK)
        self._xml_end_tag("sheetData")


class WorkbookBuilder:
    """The workbook filled one row at a time (`add`, the ratings CSV's fields), then `chunks`:
    so one reading of the day can feed it beside the CSV and the Parquet file. xlsxwriter makes
    the package (styles, frozen pane, filter, widths); the rows' XML is `sheet_xml`'s."""

    def __init__(self) -> None:
        self._package = io.BytesIO()
        self._book = xlsxwriter.Workbook(self._package, _OPTIONS)
        self._sheet = sheet = self._book.add_worksheet(SHEET, worksheet_class=_RowsSheet)
        # Style indices in the order they are taken: 1 the header, 2 the scores, 3 the dates.
        bold, score, day = (self._book.add_format(f) for f in
                            ({"bold": True}, {"num_format": SCORE_FORMAT}, {"num_format": DATE_FORMAT}))
        styles = [f._get_xf_index() for f in (bold, score, day)]
        kinds = ["score" if c.name in SCORE_NAMES else "date" if c.type == "DATE"
                 else "text" if c.name in _ONE_OF_A_KIND else "label" for c in RATINGS_COLUMNS]
        self._writer = RowWriter(kinds, styles[1], styles[2])
        self.rows = _CompressedRows()
        self.rows.write(self._writer.header(RATINGS_HEADER, styles[0]))
        sheet.freeze_panes(1, 0)
        for col, width in enumerate(_WIDTHS):
            sheet.set_column(col, col, width)

    def add(self, row: Sequence[str]) -> None:
        self.rows.write(self._writer.row(row))

    def chunks(self) -> Iterator[bytes]:
        """The finished workbook as byte chunks (call once, after the last `add`)."""
        last = self._writer.rows - 1
        # The sheet's dimension (`A1:J<last row>`) and filter, as if xlsxwriter had written the cells.
        self._sheet._check_dimensions(0, 0)
        self._sheet._check_dimensions(last, len(RATINGS_HEADER) - 1)
        self._sheet.autofilter(0, 0, last, len(RATINGS_HEADER) - 1)
        self._book.close()
        yield from _packaged(self._package, self.rows)


def workbook_chunks(rows: Iterable[Sequence[str]]) -> Iterator[bytes]:
    """The workbook of `rows` (the ratings CSV's fields, in order) as byte chunks."""
    builder = WorkbookBuilder()
    for row in rows:
        builder.add(row)
    yield from builder.chunks()


def _packaged(package: io.BytesIO, rows: _CompressedRows) -> Iterator[bytes]:
    """xlsxwriter's package, entry by entry, with the sheet's rows put in their place."""
    out = ZipWriter()
    with zipfile.ZipFile(package) as source:
        for info in source.infolist():
            data = source.read(info)
            if info.filename != _SHEET_PART:
                yield from out.entry(info.filename, [Deflated.of(data, final=True)], info.date_time)
                continue
            head, _, tail = data.partition(_MARK.encode("ascii"))
            pieces = [Deflated.of(head, final=False), rows.finished(), Deflated.of(tail, final=True)]
            yield from out.entry(info.filename, pieces, info.date_time)
    package.close()
    yield from out.end()
