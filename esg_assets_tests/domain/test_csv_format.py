"""The CSV dialect: RFC 4180, CRLF after every line, quoting only when needed, UTF-8 no BOM.

The files are written by the `csv` module; these tests hold it to the contract's rule (§1),
written out here independently (`contract_line`): on hand-picked fields, on the golden file and
on a fuzz of hostile names.
"""

import csv
import io
import random
from pathlib import Path

import pytest

from esg_assets.domain.csv_format import RATINGS_HEADER, csv_line, encode_lines

GOLDEN = Path(__file__).parent.parent / "pipeline" / "golden" / "FirmESGRatings_20261120.csv"
HOSTILE = [",", '"', "\r", "\n", "\r\n", " ", "=", "+", "-", "@", "\t", "'", ";", "\x00", "\u2028", "\ufeff",
           "é", "ß", "Ж", "中", "😀", "\u200b", "\\"]


def contract_line(fields: list[str]) -> str:
    """§1 as written: quote when the field holds a comma, a quote, CR or LF, and only then."""
    def one(value: str) -> str:
        if any(ch in value for ch in (",", '"', "\r", "\n")):
            return '"' + value.replace('"', '""') + '"'
        return value
    return ",".join(one(f) for f in fields) + "\r\n"


def test_plain_fields_are_not_quoted() -> None:
    assert csv_line(["ACC-1", "Meridian Trust", "80.00"]) == "ACC-1,Meridian Trust,80.00\r\n"


@pytest.mark.parametrize(("name", "field"), [
    ("Smith, Smith & Co", '"Smith, Smith & Co"'),
    ('The "Green" Fund', '"The ""Green"" Fund"'),
    ("Line one\nline two", '"Line one\nline two"'),
    ("CR\r\nLF", '"CR\r\nLF"'),
    ("lone\rCR", '"lone\rCR"'),
    ('no, "both"', '"no, ""both"""'),
    ('"', '""""'),
    (" leading and trailing ", " leading and trailing "),
    ("=HYPERLINK(1)", "=HYPERLINK(1)"),
    ("tab\there", "tab\there"),
    ("", ""),
])
def test_quoted_exactly_when_a_comma_quote_cr_or_lf_is_held(name: str, field: str) -> None:
    assert csv_line(["ACC-1", name]) == f"ACC-1,{field}\r\n"


def test_non_ascii_is_kept_as_utf8_without_bom() -> None:
    data = b"".join(encode_lines(["Name", "City"], [["Société Générale", "Paris"], ["Müller & Söhne", "Köln"]]))
    assert not data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8") == "Name,City\r\nSociété Générale,Paris\r\nMüller & Söhne,Köln\r\n"


def test_header_is_exact_and_last_line_ends_with_crlf() -> None:
    data = b"".join(encode_lines(RATINGS_HEADER, [], chunk_rows=2))
    assert data == (
        b"Account ID,Account Name,Overall ESG Score,Environmental Score,Social Score,"
        b"Governance Score,Primary ESG Focus,Primary Focus Score,Analysis Date,Processing Status\r\n"
    )


def test_chunking_does_not_change_the_bytes() -> None:
    rows = [[str(i), f"name {i}"] for i in range(23)]
    assert b"".join(encode_lines(["a", "b"], rows, chunk_rows=5)) == b"".join(encode_lines(["a", "b"], rows))


def test_one_column_files_are_refused() -> None:
    """The csv module writes a lone empty field as `""`; no file here has one column, so none is written."""
    with pytest.raises(ValueError, match="at least two columns"):
        b"".join(encode_lines(["Name"], [[""]]))


def test_golden_file_is_reproduced_byte_for_byte() -> None:
    golden = GOLDEN.read_bytes()
    rows = list(csv.reader(io.StringIO(golden.decode("utf-8"), newline=""), strict=True))
    assert rows[0] == list(RATINGS_HEADER) and any('"' in r[1] or "\n" in r[1] for r in rows)
    assert b"".join(encode_lines(rows[0], rows[1:], chunk_rows=7)) == golden
    assert "".join(contract_line(r) for r in rows).encode("utf-8") == golden


def _name(rnd: random.Random) -> str:
    parts = [rnd.choice(HOSTILE) if rnd.random() < 0.4 else chr(rnd.randint(0x20, 0x2FFF))
             for _ in range(rnd.randint(0, 12))]
    return "".join(parts)


def test_fuzz_of_names_matches_the_contract_rule() -> None:
    rnd = random.Random(20261201)
    rows = [[f"ACC-{i:07d}", _name(rnd), "12.30", "N/A", _name(rnd), "Successful"] for i in range(20_000)]
    header = ["Account ID", "Account Name", "a", "b", "c", "d"]
    data = b"".join(encode_lines(header, rows, chunk_rows=997))
    assert data == "".join(contract_line(r) for r in [header, *rows]).encode("utf-8")
    assert list(csv.reader(io.StringIO(data.decode("utf-8"), newline=""), strict=True)) == [header, *rows]
