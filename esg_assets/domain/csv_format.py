"""The CSV dialect of the output files: RFC 4180, CRLF after every line, minimal quoting."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

RATINGS_HEADER = (
    "Account ID",
    "Account Name",
    "Overall ESG Score",
    "Environmental Score",
    "Social Score",
    "Governance Score",
    "Primary ESG Focus",
    "Primary Focus Score",
    "Analysis Date",
    "Processing Status",
)

ERRORS_HEADER = (
    "Account ID",
    "Attempts",
    "Error Kind",
    "HTTP Status",
    "Error Message",
    "Last Attempt At",
)

_NEEDS_QUOTES = (",", '"', "\r", "\n")


def csv_field(value: str) -> str:
    """Quote a field only when it holds a comma, a quote, CR or LF; double inner quotes."""
    if any(ch in value for ch in _NEEDS_QUOTES):
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_line(fields: Sequence[str]) -> str:
    return ",".join(csv_field(field) for field in fields) + "\r\n"


def encode_lines(header: Sequence[str], rows: Iterable[Sequence[str]], chunk_rows: int = 5000) -> Iterable[bytes]:
    """Stream a CSV file as UTF-8 (no BOM) byte chunks of about `chunk_rows` lines each."""
    buffer = [csv_line(header)]
    for row in rows:
        buffer.append(csv_line(row))
        if len(buffer) >= chunk_rows:
            yield "".join(buffer).encode("utf-8")
            buffer = []
    if buffer:
        yield "".join(buffer).encode("utf-8")
