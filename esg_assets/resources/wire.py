"""HTTP/1.1 on one socket for the GET transport: the request in one send, the answer read by a
lean reader of our own.

Why not `http.client`: its exchange was over half of the fetch's CPU per account (a file object
and an `email.parser` message per answer, docs/benchmarks.md); replacing its header parser for
the whole process reached boto3's and requests' answers too. This reader is used by
`transport.py` only and leaves `http.client` untouched for every other user.

What it accepts is what HTTP/1.1 (RFC 9112) allows a client to accept, with `http.client`'s
limits: a status line `HTTP/1.0|1.1 SP 3DIGIT [SP reason]`, lines ending in LF (CR before it
optional) of at most 65,536 bytes, at most 100 header fields `token ":" value` (no obs-fold),
then a body framed by `Content-Length` (one value, or equal repeats), by `Transfer-Encoding:
chunked` (hex sizes, extensions ignored, CRLF after each chunk, trailers read and dropped) or
by the end of the connection; no body after 204 or 304; interim 1xx answers skipped. Anything
else is `MalformedAnswer` (a connection failure, as `http.client`'s errors were). The body never
exceeds MAX_BODY_BYTES. The whole-response deadline is kept here, not by `deadline.py`'s
watchdog thread: no receive waits longer than the read timeout or past the deadline (the socket's
timeout is cut to what is left of it), so a slow drip ends at the deadline as `ResponseTooSlow`.
"""

from __future__ import annotations

import re
import socket
import time

import requests

# No answer of the upstream contract comes near this (an AMS page of 1,000 accounts is ~200 KB):
# a bigger body is a malformed answer, and is not read into memory.
MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_LINE = 65536  # http.client's _MAXLINE: a line, its LF included
MAX_FIELDS = 100  # http.client's _MAXHEADERS
_RECV = 64 * 1024

_STATUS = re.compile(rb"HTTP/1\.([01]) ([1-9][0-9][0-9])(?: ([\t -~\x80-\xff]*))?\r?")
_FIELD = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([\t -~\x80-\xff]*?)[ \t]*\r?")
_HEX = re.compile(rb"[ \t]*([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?\r?")


class ResponseTooSlow(requests.Timeout):
    """The body kept arriving past the whole-response deadline (a slow drip: each receive
    within the read timeout, the whole far beyond it)."""


class ResponseTooLarge(requests.RequestException):
    """The body is larger than MAX_BODY_BYTES."""


class MalformedAnswer(requests.ConnectionError):
    """The answer breaks HTTP/1.1's framing; the message names the rule, never the bytes."""


class Answer:
    """An answer read in full: status, reason, the fields (by lower-case name: the name as sent
    and the value, a repeated field's values joined by ", " as urllib3 does), the body, and
    whether the connection may carry another request."""

    __slots__ = ("status", "reason", "fields", "body", "reusable")

    def __init__(self, status: int, reason: str, fields: dict[str, tuple[str, str]], body: bytes,
                 reusable: bool) -> None:
        self.status, self.reason, self.fields, self.body, self.reusable = status, reason, fields, body, reusable


class Wire:
    """One socket and what has been received on it but not yet consumed."""

    __slots__ = ("sock", "_buf", "_pos", "_deadline", "_timeout")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buf = bytearray()
        self._pos = 0
        self._deadline = self._timeout = 0.0

    def read_answer(self, deadline: float, timeout: float) -> Answer:
        """The next answer on the socket, read in full by `deadline` (monotonic), no receive
        waiting longer than `timeout` (the socket's timeout when called)."""
        self._buf, self._pos, self._deadline, self._timeout = bytearray(), 0, deadline, timeout
        while True:
            head = self._head()
            lines = head.split(b"\n")
            status, reason, http11 = _status_of(lines[0])
            if not 100 <= status < 200 or status == 101:
                break  # 1xx answers are interim (100 Continue, 103 Early Hints): the answer follows
        if status == 101:
            raise MalformedAnswer("101 Switching Protocols to a request that asked for no upgrade")
        fields, length, chunked, close = _fields_of(lines)
        reusable = http11 and not close
        if status in (204, 304):
            body = b""
        elif chunked:
            body = self._chunked()
        elif length is not None:
            body = self._exactly(length)
        else:
            body, reusable = self._to_end(), False
        if self._pos != len(self._buf):
            reusable = False  # bytes past the answer: the connection's framing is lost
        return Answer(status, reason, fields, body, reusable)

    def _fill(self) -> bool:
        """One receive appended to the buffer (the consumed part dropped); False at the end.
        The receive waits at most the read timeout, and never past the deadline."""
        left = self._deadline - time.monotonic()
        if left < self._timeout:
            if left <= 0:
                raise ResponseTooSlow("the whole response took longer than its deadline")
            self.sock.settimeout(left)
        data = self.sock.recv(_RECV)
        if self._pos:
            del self._buf[:self._pos]
            self._pos = 0
        self._buf += data
        return bool(data)

    def _head(self) -> bytes:
        """The status line and header lines up to (not including) the blank line that ends them."""
        start = self._pos
        while True:
            buf = self._buf
            ends = [i for i in (buf.find(b"\n\r\n", start), buf.find(b"\n\n", start)) if i >= 0]
            if ends:
                end = min(ends)
                head = bytes(buf[start:end])
                self._pos = end + (3 if buf[end + 1] == 13 else 2)
                if len(head) >= MAX_LINE and max(map(len, head.split(b"\n"))) >= MAX_LINE:
                    raise MalformedAnswer("a line of the head longer than 65536 bytes")
                return head
            if buf.count(b"\n", start) > MAX_FIELDS + 1:
                raise MalformedAnswer("more than 100 header fields")
            if len(buf) - max(buf.rfind(b"\n") + 1, start) >= MAX_LINE:
                raise MalformedAnswer("a line of the head longer than 65536 bytes")
            if not self._fill():
                raise MalformedAnswer("the connection ended before the answer's head did" if len(buf) > start
                                      else "the connection ended without an answer")
            start = self._pos

    def _line(self) -> bytes:
        """The next line (its LF and an optional CR stripped) within MAX_LINE."""
        while (end := self._buf.find(b"\n", self._pos)) < 0:
            if len(self._buf) - self._pos >= MAX_LINE:
                raise MalformedAnswer("a line of the body's framing longer than 65536 bytes")
            if not self._fill():
                raise MalformedAnswer("the connection ended inside the body's framing")
        if end - self._pos >= MAX_LINE:
            raise MalformedAnswer("a line of the body's framing longer than 65536 bytes")
        line = bytes(self._buf[self._pos:end])
        self._pos = end + 1
        return line[:-1] if line.endswith(b"\r") else line

    def _exactly(self, length: int) -> bytes:
        if length > MAX_BODY_BYTES:
            raise ResponseTooLarge(f"body larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB")
        while len(self._buf) - self._pos < length:
            if not self._fill():
                raise MalformedAnswer("the connection ended before the body's Content-Length")
        body = bytes(self._buf[self._pos:self._pos + length])
        self._pos += length
        return body

    def _chunked(self) -> bytes:
        body = bytearray()
        while True:
            size = _HEX.fullmatch(self._line())
            if size is None:
                raise MalformedAnswer("an invalid chunk size line")
            n = int(size.group(1), 16)
            if n == 0:
                break
            if len(body) + n > MAX_BODY_BYTES:
                raise ResponseTooLarge(f"body larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB")
            body += self._exactly(n)
            if self._line():
                raise MalformedAnswer("a chunk not followed by CRLF")
        for _ in range(MAX_FIELDS + 1):  # the trailer fields, dropped, then the blank line
            if not self._line():
                return bytes(body)
        raise MalformedAnswer("more than 100 trailer fields")

    def _to_end(self) -> bytes:
        """A body framed by the end of the connection (HTTP/1.0 style)."""
        while self._fill():
            if len(self._buf) - self._pos > MAX_BODY_BYTES:
                raise ResponseTooLarge(f"body larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB")
        body = bytes(self._buf[self._pos:])
        self._pos = len(self._buf)
        return body


def _status_of(line: bytes) -> tuple[int, str, bool]:
    """(status, reason, HTTP/1.1) of a status line."""
    match = _STATUS.fullmatch(line)
    if match is None:
        raise MalformedAnswer("a malformed status line")
    return int(match.group(2)), (match.group(3) or b"").decode("iso-8859-1").strip(), match.group(1) == b"1"


def _fields_of(lines: list[bytes]) -> tuple[dict[str, tuple[str, str]], int | None, bool, bool]:
    """(fields, Content-Length, chunked, Connection: close) of the head's field lines."""
    if len(lines) > MAX_FIELDS + 1:
        raise MalformedAnswer("more than 100 header fields")
    fields: dict[str, tuple[str, str]] = {}
    for line in lines[1:]:
        match = _FIELD.fullmatch(line)
        if match is None:
            raise MalformedAnswer("a malformed header line")
        name, value = match.group(1).decode("ascii"), match.group(2).decode("iso-8859-1")
        key = name.lower()
        seen = fields.get(key)
        fields[key] = (name, value) if seen is None else (seen[0], f"{seen[1]}, {value}")
    length = chunked = close = None
    if (field := fields.get("content-length")) is not None:
        values = {v.strip() for v in field[1].split(",")}
        value = values.pop()
        if values or not (value.isascii() and value.isdigit()):
            raise MalformedAnswer("an invalid Content-Length")
        length = int(value)
    if (field := fields.get("transfer-encoding")) is not None:
        if field[1].strip().lower() != "chunked":
            raise MalformedAnswer("a Transfer-Encoding other than chunked")
        if length is not None:
            raise MalformedAnswer("both Transfer-Encoding and Content-Length")
        chunked = True
    if (field := fields.get("connection")) is not None:
        close = "close" in (t.strip() for t in field[1].lower().split(","))
    return fields, length, bool(chunked), bool(close)
