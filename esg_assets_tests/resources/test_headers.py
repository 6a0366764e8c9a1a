"""The direct header parse gives `email.parser`'s message field for field, and leaves every block
that is not plain to it."""

from __future__ import annotations

import email.parser
import http.client
import io

import pytest

from esg_assets.resources.headers import parse_headers, parse_plain


def by_email(lines: list[bytes]) -> http.client.HTTPMessage:
    return email.parser.Parser(_class=http.client.HTTPMessage).parsestr(b"".join(lines).decode("iso-8859-1"))


def fields(message: http.client.HTTPMessage | None) -> dict[str, object]:
    """Every attribute of the message, its defects by kind (they compare by identity)."""
    assert message is not None
    return {**vars(message), "defects": [type(d) for d in message.defects]}


PLAIN = [
    [b"Content-Type: application/json\r\n", b"Content-Length: 12\r\n", b"\r\n"],
    [b"Retry-After:  5 \r\n", b"X-Empty:\r\n", b"X-Tab:\tv\r\n", b"\r\n"],
    [b"Set-Cookie: a=1\r\n", b"set-cookie: b=2\r\n", b"Connection: keep-alive\r\n", b"\r\n"],
    [b"Server: x\n", b"X-Latin: \xe9t\xe9\n", b"\n"],
    [b"\r\n"],
]
NOT_PLAIN = [
    [b"X-Folded: a\r\n", b" b\r\n", b"\r\n"],  # obs-fold
    [b"no colon here\r\n", b"\r\n"],
    [b"X-Caf\xe9: v\r\n", b"\r\n"],  # a name outside visible ASCII
    [b"Name : v\r\n", b"\r\n"],  # a space before the colon
    [b": v\r\n", b"\r\n"],  # no name
    [b"From nobody\r\n", b"\r\n"],
    [b"X-A: 1\r\n"],  # the block ended without its blank line
]


@pytest.mark.parametrize("lines", PLAIN)
def test_a_plain_block_gives_the_message_email_parser_gives(lines: list[bytes]) -> None:
    assert fields(parse_plain(lines)) == fields(by_email(lines))
    assert fields(parse_headers(io.BytesIO(b"".join(lines) + b"body"))) == fields(by_email(lines))


@pytest.mark.parametrize("lines", NOT_PLAIN)
def test_a_block_that_is_not_plain_goes_to_email_parser(lines: list[bytes]) -> None:
    assert parse_plain(lines) is None
    assert fields(parse_headers(io.BytesIO(b"".join(lines)))) == fields(by_email(lines))


def test_the_limits_of_http_client_still_apply() -> None:
    with pytest.raises(http.client.HTTPException):
        parse_headers(io.BytesIO(b"".join(b"X-%d: v\r\n" % i for i in range(200)) + b"\r\n"))
    with pytest.raises(http.client.LineTooLong):
        parse_headers(io.BytesIO(b"X-Long: " + b"v" * 70_000 + b"\r\n\r\n"))
