"""The GET transport (`resources/transport.py` through `http.send_get`) against a real loopback
HTTP server: keep-alive reuse, a connection the server closed (said or unsaid) replaced before
use, a redirect returned and not followed, proxies in the environment ignored, a refused
connection raised as requests' ConnectionError."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from esg_assets.resources.http import make_session, send_get


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self.server.connections.add(self.client_address)
        self.server.paths.append(self.path)
        body = b'{"ok":true}'
        status = 302 if self.path.startswith("/moved") else 200
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "/elsewhere")
        self.send_header("Content-Length", str(len(body)))
        if self.path.startswith("/close-said"):
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        if self.path.startswith("/close-said") or self.path.startswith("/close-unsaid"):
            # /close-unsaid: the keep-alive ends on the server's side without a word (an idle timeout).
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.connections: set[tuple[str, int]] = set()
        self.paths: list[str] = []
        self.closed = threading.Semaphore(0)  # released each time the server closes a connection

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        self.closed.release()


@contextmanager
def serving(tls: ssl.SSLContext | None = None) -> Iterator[_Server]:
    """The server on a free loopback port; `tls`: its server context (HTTPS)."""
    with _Server() as server:  # closes the listening socket on exit
        if tls is not None:
            server.socket = tls.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield server
        finally:
            server.shutdown()


def _get(session: Any, server: _Server, path: str, **params: str) -> requests.Response:
    url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    return send_get(session, url, params or None, {"Accept": "application/json"}, 2.0, True)


def test_keep_alive_reuses_one_connection_and_encodes_the_query() -> None:
    with serving() as server:
        session = make_session(2)
        for _ in range(5):
            assert _get(session, server, "/a", cursor="x y&z", limit="10").json() == {"ok": True}
        session.close()
    assert len(server.connections) == 1
    assert server.paths[0] == "/a?cursor=x+y%26z&limit=10"


@pytest.mark.parametrize("path", ["/close-said", "/close-unsaid"])
def test_a_connection_the_server_closed_is_replaced_before_the_next_request(path: str) -> None:
    with serving() as server:
        session = make_session(2)
        for _ in range(4):
            assert _get(session, server, path).status_code == 200
            # The server's close is on this side (loopback) once its close() returned.
            assert server.closed.acquire(timeout=5)
        session.close()
    assert len(server.connections) == 4


def test_a_redirect_is_an_answer_not_followed() -> None:
    with serving() as server:
        session = make_session(2)
        response = _get(session, server, "/moved")
        session.close()
    assert response.status_code == 302 and response.headers["location"] == "/elsewhere"
    assert server.paths == ["/moved"]


def test_proxies_in_the_environment_are_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    with serving() as server:
        session = make_session(2)
        assert _get(session, server, "/a").status_code == 200
        session.close()


def test_a_refused_connection_is_requests_connection_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    session = make_session(2)
    with pytest.raises(requests.ConnectionError):
        send_get(session, f"http://127.0.0.1:{port}/a", None, {}, 2.0, True)
    session.close()
