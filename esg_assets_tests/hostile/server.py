"""A hostile upstream for the client's tests: every answer of the token endpoint, the AMS pages,
the analyses and the changes feed is scripted raw (status, headers, body bytes), so a test can
send what no honest server would: a 10,000-deep JSON body, `Retry-After: ²`, a cursor loop.
Served over plain HTTP or, with `tls=(cert, key)`, over TLS on loopback."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN_OK = b'{"access_token":"hostile-token","token_type":"Bearer","expires_in":3600}'


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0
    drip: float = 0.0  # seconds between the body's bytes (a slow-drip answer)
    header_drip: float = 0.0  # seconds between the bytes of the status line and headers


# A script: what to answer to the n-th request (0-based) of a kind, given its query.
Script = Callable[[int, dict[str, list[str]]], Answer]


def always(answer: Answer) -> Script:
    return lambda n, query: answer


def in_turn(*answers: Answer) -> Script:
    """The answers one after another; the last repeats."""
    return lambda n, query: answers[min(n, len(answers) - 1)]


class Hostile:
    """Token endpoint at /token, AMS at /ams/v1/accounts, ESG API under /esg."""

    def __init__(self, token: Script = always(Answer(200, TOKEN_OK)), ams: Script | None = None,
                 analysis: Script | None = None, feed: Script | None = None,
                 tls: tuple[Path, Path] | None = None):
        self.scripts: dict[str, Script | None] = {"token": token, "ams": ams, "analysis": analysis, "feed": feed}
        self.tls = tls
        self.lock = threading.Lock()
        self.requests: list[tuple[str, float]] = []  # (kind, time)
        self._server: ThreadingHTTPServer | None = None

    def count(self, kind: str) -> int:
        with self.lock:
            return sum(1 for k, _ in self.requests if k == kind)

    def env(self) -> dict[str, str]:
        assert self._server is not None
        scheme = "https" if self.tls else "http"
        base = f"{scheme}://127.0.0.1:{self._server.server_address[1]}"
        return {"ESG_AUTH_TOKEN_URL": base + "/token", "ESG_CLIENT_ID": "hostile-client",
                "ESG_CLIENT_SECRET": "hostile-secret", "ESG_AMS_BASE_URL": base + "/ams",
                "ESG_API_BASE_URL": base + "/esg"}

    def answer(self, kind: str, query: dict[str, list[str]]) -> Answer:
        with self.lock:
            n = sum(1 for k, _ in self.requests if k == kind)
            self.requests.append((kind, time.monotonic()))
        script = self.scripts.get(kind)
        return Answer(404, b'{"error":"not_found"}') if script is None else script(n, query)

    @contextmanager
    def running(self) -> Iterator[Hostile]:
        hostile = self

        class Handler(_Handler):
            state = hostile

        server = _Server(("127.0.0.1", 0), Handler)
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(self.tls[0]), str(self.tls[1]))
            server.socket = context.wrap_socket(server.socket, server_side=True)
        server.daemon_threads = True
        self._server = server
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join(5)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up mid-answer, or a refused TLS handshake


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: Hostile

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def _kind(self) -> str:
        path = urlsplit(self.path).path
        if path == "/token":
            return "token"
        if path == "/ams/v1/accounts":
            return "ams"
        if path == "/esg/v1/esg-analysis/changes":
            return "feed"
        return "analysis" if path.startswith("/esg/v1/accounts/") else "other"

    def _reply(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        answer = self.state.answer(self._kind(), parse_qs(urlsplit(self.path).query))
        if answer.delay:
            time.sleep(answer.delay)
        if answer.header_drip:
            head = f"HTTP/1.1 {answer.status} X\r\nContent-Length: {len(answer.body)}\r\n" + "".join(
                f"X-Pad-{i}: {'p' * 40}\r\n" for i in range(50)) + "\r\n"
            for byte in head.encode():
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(answer.header_drip)
            self.wfile.write(answer.body)
            return
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in answer.headers:
            self.send_header(name, value)
        self.end_headers()
        if not answer.drip:
            self.wfile.write(answer.body)
            return
        for i in range(len(answer.body)):
            self.wfile.write(answer.body[i:i + 1])
            self.wfile.flush()
            time.sleep(answer.drip)

    do_GET = _reply  # noqa: N815 - stdlib name
    do_POST = _reply  # noqa: N815 - stdlib name
