"""The sandbox's HTTP/1.1 server protocol on asyncio: keep-alive, pipelining, bodies of any framing.

Parsing is llhttp's (through httptools), not ours: it rejects what RFC 9112 says a server must not
guess at (a signed or duplicated Content-Length, Content-Length beside Transfer-Encoding, bare LF
line ends, bad header names) and decodes chunked bodies, so a malformed request gets one 400 and
the connection closes instead of being misread as the next request. llhttp is also what lets one
core sustain thousands of requests per second. The handler returns a response at once (the fast
path, no task created) or an awaitable, in which case requests pipelined behind it wait in a
queue until that response is written, keeping order.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import traceback
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import cast

import httptools

from esg_assets.sandbox.behaviour import REASONS

MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024
MAX_QUEUED = 64  # pipelined requests parsed ahead of a pending answer before reading pauses
_VERSIONS = frozenset({"1.0", "1.1"})


@dataclass
class Request:
    method: str
    path: str
    query: str
    version: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = "application/json"
    reset: bool = False  # drop the connection (RST) instead of answering
    close: bool = False


Handler = Callable[[Request], "Response | Awaitable[Response]"]


def encode(resp: Response, keep_alive: bool) -> bytes:
    head = [f"HTTP/1.1 {resp.status} {REASONS.get(resp.status, 'Status')}",
            f"Content-Type: {resp.content_type}", f"Content-Length: {len(resp.body)}"]
    head.extend(f"{k}: {v}" for k, v in resp.headers)
    if not keep_alive:
        head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + resp.body


class _Refusal(Exception):
    """Raised from a parser callback: the request is refused with this status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def refusal(status: int, message: str) -> Response:
    """The answer to a request that cannot be served; the connection closes after it."""
    body = json.dumps({"error": "bad_request", "message": message}).encode()
    return Response(status, body, close=True)


class HttpProtocol(asyncio.Protocol):
    """One connection; also the httptools callback object (the `on_*` methods)."""

    def __init__(self, handler: Handler, connections: set[HttpProtocol]) -> None:
        self.handler = handler
        self.connections = connections
        self.parser = httptools.HttpRequestParser(self)
        # Parsed requests (with their keep-alive) waiting for their turn; a refusal comes last.
        self.queue: deque[tuple[Request, bool] | Response] = deque()
        self.transport: asyncio.Transport | None = None
        self.task: asyncio.Task[None] | None = None
        self.closed = False
        self.refused = False  # nothing more is read once a request was refused
        self.paused = False
        self._fed_in_head = 0  # bytes received inside the current head, after the chunk it began in
        self._began_in_chunk = False
        self._new_message()

    # --- httptools callbacks -------------------------------------------------------------
    def _new_message(self) -> None:
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body = bytearray()
        self._head_size = 0
        self._in_head = True

    def on_message_begin(self) -> None:
        self._new_message()
        self._fed_in_head = 0
        self._began_in_chunk = True

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._grow_head(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._grow_head(len(name) + len(value) + 4)
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1").strip()

    def _grow_head(self, size: int) -> None:
        self._head_size += size
        if self._head_size > MAX_HEAD:
            raise _Refusal(431, "request head too large")

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self.parser.get_http_version() not in _VERSIONS:
            raise _Refusal(505, "only HTTP/1.0 and HTTP/1.1 are served")
        length = self._headers.get("content-length")
        if length is not None and int(length) > MAX_BODY:  # llhttp has checked it is digits only
            raise _Refusal(413, "body too large")

    def on_body(self, body: bytes) -> None:
        self._body += body
        if len(self._body) > MAX_BODY:
            raise _Refusal(413, "body too large")

    def on_message_complete(self) -> None:
        path, _, query = self._url.decode("latin-1").partition("?")
        req = Request(self.parser.get_method().decode("latin-1"), path, query,
                      "HTTP/" + self.parser.get_http_version(), self._headers, bytes(self._body))
        self.queue.append((req, self.parser.should_keep_alive()))

    # --- asyncio.Protocol ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, hence the cast, not a check.
        self.transport = cast(asyncio.Transport, transport)
        self.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.connections.discard(self)
        if self.task is not None:
            self.task.cancel()  # a delayed answer nobody will read: stop waiting

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return
        self._began_in_chunk = False
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._stop_after_queued()  # no protocol switch here: answer it, then close
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if not isinstance(cause, _Refusal):
                raise
            self._refuse(refusal(cause.status, cause.message))
        except httptools.HttpParserError as exc:
            self._refuse(refusal(400, f"malformed request: {exc}"))
        else:
            # A head that never ends is refused before llhttp has a whole header to hand us:
            # count the chunks that arrive wholly inside one head (the one where it began is
            # not counted, as the bytes before its start are not known).
            if not self._in_head:
                self._fed_in_head = 0
            elif not self._began_in_chunk:
                self._fed_in_head += len(data)
                if self._fed_in_head > MAX_HEAD:
                    self._refuse(refusal(431, "request head too large"))
        if self.task is None:
            self._process()
        elif len(self.queue) > MAX_QUEUED and self.transport is not None and not self.paused:
            self.paused = True
            self.transport.pause_reading()

    def _refuse(self, resp: Response) -> None:
        self.refused = True
        self.queue.append(resp)

    def _stop_after_queued(self) -> None:
        self.refused = True
        if self.queue and isinstance(self.queue[-1], tuple):
            self.queue[-1] = (self.queue[-1][0], False)

    # --- answering, in order -------------------------------------------------------------
    def _process(self) -> None:
        while self.queue and not self.closed and self.task is None:
            item = self.queue.popleft()
            if isinstance(item, Response):
                self._write(item, keep_alive=False)
                return
            req, keep_alive = item
            try:
                result = self.handler(req)
            except Exception:  # a sandbox bug must show as a 500 and a traceback, not a hang
                traceback.print_exc()
                result = Response(500, b'{"error":"sandbox_bug","message":"see sandbox output"}')
            if isinstance(result, Response):
                self._write(result, keep_alive)
            else:
                self.task = asyncio.ensure_future(self._finish(result, keep_alive))
        if self.paused and len(self.queue) <= MAX_QUEUED // 2 and self.transport is not None and not self.closed:
            self.paused = False
            self.transport.resume_reading()

    async def _finish(self, pending: Awaitable[Response], keep_alive: bool) -> None:
        try:
            resp = await pending
        except Exception:  # asyncio.CancelledError (client gone) is not caught: it ends the task
            traceback.print_exc()
            resp = Response(500, b'{"error":"sandbox_bug","message":"see sandbox output"}')
        self.task = None
        if not self.closed:
            self._write(resp, keep_alive)
            self._process()

    def _write(self, resp: Response, keep_alive: bool) -> None:
        transport = self.transport
        if transport is None or self.closed:
            return
        if resp.reset:
            self.abort_with_reset()
            return
        keep_alive = keep_alive and not resp.close
        transport.write(encode(resp, keep_alive))
        if not keep_alive:
            self.closed = True
            transport.close()

    def abort_with_reset(self) -> None:
        """Close with TCP RST (SO_LINGER 0) so the client sees a connection reset."""
        assert self.transport is not None
        sock = self.transport.get_extra_info("socket")
        try:
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass  # the abort below still drops the connection without an answer
        self.closed = True
        self.transport.abort()
