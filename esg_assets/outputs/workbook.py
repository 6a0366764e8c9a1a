"""`FirmESGRatings_YYYYMMDD.xlsx`, the business users' copy (output-and-behaviour.md §3e).

xlsxwriter builds the workbook in memory (`in_memory`): its streaming mode (`constant_memory`)
keeps the rows in a temporary file, which would be plaintext at rest, so it is not used. Memory
grows with the day, about 2.3 KB per row at peak (measured: 100,000 rows, about 230 MB over the
process's baseline and 5.4 s; docs/benchmarks.md). The finished workbook goes to the store in
1 MiB chunks.

Text is written with `write_string` and the workbook never turns strings into formulas, numbers
or links, so a name such as `=HYPERLINK(...)` stays the text it is in the CSV.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import date

import xlsxwriter

from esg_assets.catalog import RATINGS_COLUMNS, SCORE_NAMES
from esg_assets.domain.csv_format import RATINGS_HEADER
from esg_assets.domain.rounding import NOT_AVAILABLE

SHEET = "Ratings"
SCORE_FORMAT = "0.00"
DATE_FORMAT = "yyyy-mm-dd"
_CHUNK = 1 << 20
_OPTIONS = {
    "in_memory": True,
    "strings_to_formulas": False,
    "strings_to_numbers": False,
    "strings_to_urls": False,
}
# Column widths in characters, so the header and the usual values are readable on opening.
_WIDTHS = (13, 40, 18, 19, 13, 17, 18, 19, 13, 18)


def workbook_chunks(rows: Iterable[Sequence[str]]) -> Iterator[bytes]:
    """The workbook of `rows` (the ratings CSV's fields, in order) as byte chunks."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, _OPTIONS)
    sheet = book.add_worksheet(SHEET)
    bold = book.add_format({"bold": True})
    score = book.add_format({"num_format": SCORE_FORMAT})
    day = book.add_format({"num_format": DATE_FORMAT})
    kinds = ["score" if c.name in SCORE_NAMES else "date" if c.type == "DATE" else "text" for c in RATINGS_COLUMNS]
    for col, (title, width) in enumerate(zip(RATINGS_HEADER, _WIDTHS)):
        sheet.write_string(0, col, title, bold)
        sheet.set_column(col, col, width)
    last = 0
    for last, row in enumerate(rows, 1):
        for col, (value, kind) in enumerate(zip(row, kinds)):
            if value == NOT_AVAILABLE or kind == "text":
                sheet.write_string(last, col, value)
            elif kind == "score":
                # The CSV's rounded value; a float holds two decimals exactly enough for display.
                sheet.write_number(last, col, float(value), score)
            else:
                sheet.write_datetime(last, col, date.fromisoformat(value), day)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, last, len(RATINGS_HEADER) - 1)
    book.close()
    view = buffer.getbuffer()
    try:
        for start in range(0, len(view), _CHUNK):
            yield bytes(view[start:start + _CHUNK])
    finally:
        view.release()
