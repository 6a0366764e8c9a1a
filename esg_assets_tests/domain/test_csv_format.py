"""The CSV dialect: RFC 4180, CRLF after every line, quoting only when needed, UTF-8 no BOM."""

from esg_assets.domain.csv_format import RATINGS_HEADER, csv_field, csv_line, encode_lines


def test_plain_fields_are_not_quoted() -> None:
    assert csv_line(["ACC-1", "Meridian Trust", "80.00"]) == "ACC-1,Meridian Trust,80.00\r\n"


def test_comma_quote_and_line_breaks_are_quoted_and_quotes_doubled() -> None:
    assert csv_field("Smith, Smith & Co") == '"Smith, Smith & Co"'
    assert csv_field('The "Green" Fund') == '"The ""Green"" Fund"'
    assert csv_field("Line one\nline two") == '"Line one\nline two"'
    assert csv_field("CR\r\nLF") == '"CR\r\nLF"'
    assert csv_field("no, \"both\"") == '"no, ""both"""'


def test_non_ascii_is_kept_as_utf8_without_bom() -> None:
    data = b"".join(encode_lines(["Name"], [["Société Générale"], ["Müller & Söhne"]]))
    assert not data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8") == "Name\r\nSociété Générale\r\nMüller & Söhne\r\n"


def test_header_is_exact_and_last_line_ends_with_crlf() -> None:
    data = b"".join(encode_lines(RATINGS_HEADER, [], chunk_rows=2))
    assert data == (
        b"Account ID,Account Name,Overall ESG Score,Environmental Score,Social Score,"
        b"Governance Score,Primary ESG Focus,Primary Focus Score,Analysis Date,Processing Status\r\n"
    )


def test_chunking_does_not_change_the_bytes() -> None:
    rows = [[str(i), f"name {i}"] for i in range(23)]
    assert b"".join(encode_lines(["a", "b"], rows, chunk_rows=5)) == b"".join(encode_lines(["a", "b"], rows))
