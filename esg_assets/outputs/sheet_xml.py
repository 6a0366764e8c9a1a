"""The workbook's row XML (SpreadsheetML `<row>` elements with inline strings), written here
instead of by xlsxwriter's per-cell calls, which were three quarters of `ratings_csv`'s CPU
(docs/benchmarks.md, "The workbook's rows written directly").

The rules are Excel's, the ones xlsxwriter 3.3.1 applies in its streaming mode, with one
difference: every text is escaped, always. (xlsxwriter writes a string that starts with `<r>` and
ends with `</r>` unescaped, as rich text, so an account name such as `<r>Smith & Co</r>` made the
sheet unreadable.)
- `&`, `<`, `>` are entities; control characters other than tab and line feed, and the
  non-characters U+FFFE and U+FFFF, are Excel's `_xHHHH_` escapes, and a literal `_xHHHH_` in the
  text gets its underscore escaped (`_x005F_`), so Excel shows the text as it is.
- A text with leading or trailing white space keeps it (`xml:space="preserve"`).
- A text longer than Excel's cell limit (32,767 UTF-16 units) is cut there (the CSV keeps it whole).
- A score is written as the CSV's decimal text (`72.46`: the number Excel reads is the nearest
  double, the one `float` gives), a date as Excel's serial day number.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from esg_assets.domain.rounding import NOT_AVAILABLE

# Excel's sheet: 1,048,576 rows (the header is one), 32,767 UTF-16 units in a cell.
MAX_ROWS = 1_048_576
MAX_TEXT_UNITS = 32_767
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Anything that needs more than copying: an escape, a control character, edge white space.
_SPECIAL = re.compile(r"[&<>_\x00-\x08\x0b-\x1f\ufffe\uffff]|^\s|\s$")
_LITERAL_ESCAPE = re.compile(r"(_x[0-9a-fA-F]{4}_)")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]")
_EDGE_SPACE = re.compile(r"^\s|\s$")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
# Excel's day 1 is 1900-01-01 and it counts a 29 February 1900 that never was.
_EPOCH = date(1899, 12, 30)
_FAKE_LEAP_DAY = date(1900, 3, 1)
_FIRST_DAY = date(1900, 1, 1)


class SheetFull(ValueError):
    """More rows than an Excel sheet holds."""


def _cut(text: str) -> str:
    """The text cut to Excel's cell limit, never inside a surrogate pair."""
    units = text.encode("utf-16-le")
    if len(units) <= 2 * MAX_TEXT_UNITS:
        return text
    return units[: 2 * MAX_TEXT_UNITS].decode("utf-16-le", errors="ignore")


def inline_text(text: str) -> str:
    """`<is><t>…</t></is>` holding `text` as Excel shows it."""
    if len(text) > MAX_TEXT_UNITS // 2:
        text = _cut(text)
    if not _SPECIAL.search(text):
        return f"<is><t>{text}</t></is>"
    text = _LITERAL_ESCAPE.sub(r"_x005F\1", text)
    text = _CONTROL.sub(lambda m: f"_x{ord(m.group()):04X}_", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    space = ' xml:space="preserve"' if _EDGE_SPACE.search(text) else ""
    return f"<is><t{space}>{text}</t></is>"


def excel_day(value: str) -> int | None:
    """Excel's serial number of a `YYYY-MM-DD` date; None before 1900 (Excel has no such day)."""
    day = date.fromisoformat(value)
    if day < _FIRST_DAY:
        return None
    return (day - _EPOCH).days - (1 if day < _FAKE_LEAP_DAY else 0)


class RowWriter:
    """Turns the ratings CSV's fields into `<row>` elements: `kinds` says per column whether it
    is `text` (one of a kind: IDs, names), `label` (text from a few values: focus, status),
    `score` or `date`; `score_style` and `date_style` are the cell formats' indices in the
    workbook's styles. The cells of labels, scores and dates (a few thousand values) are cached."""

    def __init__(self, kinds: Sequence[str], score_style: int, date_style: int):
        # Per column: the cell's opening, its kind, and the cache of its cells by value (None: not cached).
        self._columns = tuple((f'<c r="{letter}', kind, None if kind == "text" else {})
                              for letter, kind in zip(_LETTERS, kinds))
        self._score_style, self._date_style = score_style, date_style
        self.rows = 1  # the header's

    def header(self, titles: Sequence[str], style: int) -> str:
        cells = "".join(f'{opening}1" s="{style}" t="inlineStr">{inline_text(t)}</c>'
                        for (opening, _kind, _cache), t in zip(self._columns, titles))
        return f'<row r="1">{cells}</row>'

    def _cell(self, kind: str, value: str) -> str:
        """What follows `<c r="A1` for a value of a column of `kind`."""
        if value == NOT_AVAILABLE or kind in ("text", "label"):
            return f'" t="inlineStr">{inline_text(value)}</c>'
        if kind == "score":
            if not _NUMBER.fullmatch(value):
                raise ValueError(f"the workbook's score cell is not a decimal number: {value[:40]!r}")
            return f'" s="{self._score_style}"><v>{value}</v></c>'
        serial = excel_day(value)
        if serial is None:  # kept as the text it is
            return f'" t="inlineStr">{inline_text(value)}</c>'
        return f'" s="{self._date_style}"><v>{serial}</v></c>'

    def row(self, fields: Sequence[str]) -> str:
        """The next row's XML."""
        if self.rows >= MAX_ROWS:
            raise SheetFull(f"the workbook's sheet is full: Excel holds {MAX_ROWS - 1:,} rows below the header, "
                            "the day has more")
        self.rows += 1
        r = str(self.rows)
        parts = [f'<row r="{r}">']
        for (opening, kind, cache), value in zip(self._columns, fields):
            if cache is None:
                parts += (opening, r, '" t="inlineStr">', inline_text(value), "</c>")
                continue
            cell = cache.get(value)
            if cell is None:
                cell = cache[value] = self._cell(kind, value)
            parts += (opening, r, cell)
        parts.append("</row>")
        return "".join(parts)
