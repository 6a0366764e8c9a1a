"""A direct parse of plain HTTP header blocks for `http.client`, the same `HTTPMessage` as its own.

`http.client.parse_headers` hands every answer's header block to `email.parser`, a general MIME
parser: 31 µs per answer of the ESG API here against 8.7 µs for the loop below, and the largest
single share of the fetch's CPU after the socket calls (docs/benchmarks.md, "One owner of rate
and places"). `http.client` looks the function up in its module at every answer, so it is
replaced there (`install`), for every user of `http.client` in the process: a block that is not
plain (a line that is not `name: value` with a visible-ASCII name, a folded line, a missing blank
line at the end) goes to the original parser, and a plain one gives the message `email.parser`
gives, field for field (esg_assets_tests/resources/test_headers.py).
"""

from __future__ import annotations

import email.parser
import http.client
import re
from typing import BinaryIO

# A header line `email.parser` reads as one field: a name of visible ASCII without ":", then ":".
_PLAIN_LINE = re.compile(rb"[!-9;-~]+:[^\r\n]*\r?\n")
_ORIGINAL = http.client.parse_headers


def parse_plain(lines: list[bytes]) -> http.client.HTTPMessage | None:
    """The message of a plain header block (its lines, the blank one last), or None when it is
    not plain and the original parser must read it."""
    if not lines or lines[-1] not in (b"\r\n", b"\n"):
        return None
    message = http.client.HTTPMessage()
    for raw in lines[:-1]:
        if not _PLAIN_LINE.fullmatch(raw):
            return None
        name, value = raw.decode("iso-8859-1").split(":", 1)
        message.set_raw(name, value.lstrip(" \t").rstrip("\r\n"))
    message.set_payload("")
    return message


def parse_headers(fp: BinaryIO, _class: type = http.client.HTTPMessage) -> http.client.HTTPMessage:
    """`http.client.parse_headers` with the direct parse first (same limits on line length and
    header count: `http.client._read_headers` reads the lines)."""
    lines = http.client._read_headers(fp)  # noqa: SLF001 - the stdlib's own reader and limits
    message = parse_plain(lines) if _class is http.client.HTTPMessage else None
    if message is None:
        message = email.parser.Parser(_class=_class).parsestr(b"".join(lines).decode("iso-8859-1"))
    return message


def install() -> None:
    """Make `http.client` use `parse_headers` above (idempotent)."""
    if http.client.parse_headers is _ORIGINAL:
        http.client.parse_headers = parse_headers
