"""A small HTTP/1.1 server protocol on asyncio: keep-alive, pipelining-safe, Content-Length bodies.

Hand-written rather than `http.server` so one core sustains thousands of requests per second.
The handler returns a response at once (the fast path, no task created) or an awaitable, in which
case the connection stops reading requests until that response is written, keeping order.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable
import traceback
from dataclasses import dataclass, field
from typing import cast

from esg_assets.sandbox.behaviour import REASONS

MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024


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


def parse_head(head: bytes) -> Request:
    """Parse the request line and headers; ValueError on anything malformed."""
    lines = head.decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ")
    if not version.startswith("HTTP/1."):
        raise ValueError("unsupported HTTP version")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise ValueError("malformed header")
        headers[name.lower()] = value.strip()
    path, _, query = target.partition("?")
    return Request(method, path, query, version, headers)


class HttpProtocol(asyncio.Protocol):
    def __init__(self, handler: Handler, connections: set[HttpProtocol]) -> None:
        self.handler = handler
        self.connections = connections
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.task: asyncio.Task[None] | None = None
        self.closed = False

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
        self.buf += data
        if self.task is None:
            self._process()

    def _fail(self, status: int, message: str) -> None:
        body = ('{"error":"bad_request","message":"%s"}' % message).encode()
        self._write(Response(status, body), keep_alive=False)

    def _process(self) -> None:
        while not self.closed:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > MAX_HEAD:
                    self._fail(431, "request head too large")
                return
            try:
                req = parse_head(bytes(self.buf[:end]))
            except (ValueError, UnicodeDecodeError):
                self._fail(400, "malformed request")
                return
            if "chunked" in req.headers.get("transfer-encoding", ""):
                self._fail(501, "chunked request bodies are not supported")
                return
            try:
                length = int(req.headers.get("content-length", "0"))
            except ValueError:
                self._fail(400, "bad Content-Length")
                return
            if length > MAX_BODY:
                self._fail(413, "body too large")
                return
            if len(self.buf) < end + 4 + length:
                return  # wait for the rest of the body
            req.body = bytes(self.buf[end + 4 : end + 4 + length])
            del self.buf[: end + 4 + length]
            conn = req.headers.get("connection", "").lower()
            keep_alive = conn != "close" if req.version == "HTTP/1.1" else conn == "keep-alive"
            try:
                result = self.handler(req)
            except Exception:  # a sandbox bug must show as a 500 and a traceback, not a hang
                traceback.print_exc()
                result = Response(500, b'{"error":"sandbox_bug","message":"see sandbox output"}')
            if isinstance(result, Response):
                self._write(result, keep_alive)
            else:
                self.task = asyncio.ensure_future(self._finish(result, keep_alive))
                return

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
