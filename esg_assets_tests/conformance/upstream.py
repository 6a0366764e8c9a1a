"""A second, independent upstream server written from contracts/upstream-apis.yaml alone (it
shares nothing with esg_assets.sandbox), made to differ from the sandbox wherever the contract
allows: its own path prefixes (one base URL with a trailing slash), opaque base64 cursors, a page
size it picks itself whatever `limit` says, HTTP Basic client auth, short-lived tokens that it
really expires, a one-time revocation, Retry-After as an HTTP-date, replies scripted per account
(raw JSON bodies, so numbers keep the exact text the test wrote), and a log of every request."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

CLIENT_ID = "conformance-client"
CLIENT_SECRET = "s3cr3t:with/odd=chars"
TOKEN_PATH = "/idp/connect/token"
AMS_PREFIX = "/ams"
ESG_PREFIX = "/esg-api"
ANALYSIS_PREFIX = ESG_PREFIX + "/v1/accounts/"
ANALYSIS_SUFFIX = "/esg-analysis"
FEED_PATH = ESG_PREFIX + "/v1/esg-analysis/changes"
AMS_PATH = AMS_PREFIX + "/v1/accounts"


@dataclass(frozen=True)
class Reply:
    """One scripted answer: `status` with a raw `body`, or `drop` (close without answering), or
    a 429 whose Retry-After is an HTTP-date `retry_after_date_s` seconds ahead; after `delay`."""

    status: int = 200
    body: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    drop: bool = False
    retry_after_date_s: float | None = None
    delay: float = 0.0  # seconds before answering (beyond the client's read timeout: a timeout)


@dataclass
class Entry:
    """One request as the server saw it."""

    start: float
    path: str
    query: dict[str, list[str]]
    authorized_header: bool
    kind: str  # token | ams | analysis | feed | other
    account_id: str | None = None
    status: int | None = None  # None: connection dropped
    end: float = 0.0
    retry_not_before: float | None = None  # for a 429 with an HTTP-date


@dataclass
class World:
    """What the upstream systems hold: AMS records in page order (duplicates allowed), one
    script of replies per account (the last reply repeats), the changes feed (None: 501)."""

    accounts: list[dict[str, str]]
    analyses: dict[str, list[Reply]]
    feed: list[tuple[str, str]] | None = None
    ams_page_size: int = 7
    feed_page_size: int = 2
    token_status: int = 200
    expires_in: int = 2
    revoke_after_analysis_requests: int | None = None
    ams_failing_page: int | None = None  # this page index always answers 503
    reject_analysis_tokens: bool = False  # every analysis request answers 401, fresh token or not
    latency: Callable[[str], float] = field(default=lambda account_id: 0.0)


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset, "v": 2}).encode()).decode()


def _offset(cursor: str) -> int:
    return int(json.loads(base64.urlsafe_b64decode(cursor.encode()))["o"])


class Upstream:
    """The three systems on one loopback port, each under its own prefix."""

    def __init__(self, world: World) -> None:
        self.lock = threading.Lock()
        self.world = world
        self.log: list[Entry] = []
        self.tokens: dict[str, float] = {}  # token -> expiry (wall clock)
        self.issued: list[str] = []
        self.revoked_once = False
        self.counters: dict[str, int] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self._server: ThreadingHTTPServer | None = None

    # ---- configuration for the job -------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    def env(self) -> dict[str, str]:
        base = f"http://127.0.0.1:{self.port}"
        return {
            "ESG_AUTH_TOKEN_URL": base + TOKEN_PATH,
            "ESG_CLIENT_ID": CLIENT_ID,
            "ESG_CLIENT_SECRET": CLIENT_SECRET,
            "ESG_AMS_BASE_URL": base + AMS_PREFIX + "/",
            "ESG_API_BASE_URL": base + ESG_PREFIX,
        }

    def set_world(self, world: World) -> None:
        with self.lock:
            self.world = world
            self.counters = {}
            self.revoked_once = False
            self.max_in_flight = 0

    def entries(self, kind: str | None = None, since: int = 0) -> list[Entry]:
        with self.lock:
            return [e for e in self.log[since:] if kind is None or e.kind == kind]

    # ---- lifecycle ------------------------------------------------------------------------
    @contextmanager
    def running(self) -> Iterator[Upstream]:
        upstream = self

        class Handler(_Handler):
            server_state = upstream

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join(5)

    # ---- behaviour ----------------------------------------------------------------------------
    def next_reply(self, account_id: str) -> Reply | None:
        with self.lock:
            script = self.world.analyses.get(account_id)
            if script is None:
                return None
            n = self.counters.get(account_id, 0)
            self.counters[account_id] = n + 1
            return script[min(n, len(script) - 1)]

    def check_bearer(self, header: str | None, entry: Entry) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        token = header[len("Bearer "):]
        with self.lock:
            expiry = self.tokens.get(token)
            if entry.kind == "analysis" and self.world.reject_analysis_tokens:
                return False
            if entry.kind == "analysis" and self.world.revoke_after_analysis_requests is not None and not self.revoked_once:
                seen = sum(1 for e in self.log if e.kind == "analysis")
                if seen > self.world.revoke_after_analysis_requests:
                    self.revoked_once = True
                    self.tokens.clear()
                    return False
            return expiry is not None and time.time() < expiry

    def issue_token(self) -> dict[str, Any]:
        token = base64.urlsafe_b64encode(threading.get_ident().to_bytes(8, "little") + time.time_ns().to_bytes(8, "little")).decode()
        with self.lock:
            self.tokens[token] = time.time() + self.world.expires_in
            self.issued.append(token)
            return {"access_token": token, "token_type": "Bearer", "expires_in": self.world.expires_in}


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client killed or timed out mid-request (tests do both on purpose)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_state: Upstream

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    # ---- plumbing ------------------------------------------------------------------------------
    def _send(self, entry: Entry, status: int, body: str | bytes = b"", headers: tuple[tuple[str, str], ...] = (),
              content_type: str = "application/json") -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        entry.status = status

    def _error(self, entry: Entry, status: int, code: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        self._send(entry, status, json.dumps({"error": code, "message": f"{code} ({status})"}), headers)

    def _entry(self, kind: str, account_id: str | None = None) -> Entry:
        parts = urlsplit(self.path)
        entry = Entry(time.time(), parts.path, parse_qs(parts.query), "Authorization" in self.headers, kind, account_id)
        state = self.server_state
        with state.lock:
            state.log.append(entry)
        return entry

    def _classify(self) -> tuple[str, str | None]:
        path = urlsplit(self.path).path
        if path == TOKEN_PATH:
            return "token", None
        if path == AMS_PATH:
            return "ams", None
        if path == FEED_PATH:
            return "feed", None
        if path.startswith(ANALYSIS_PREFIX) and path.endswith(ANALYSIS_SUFFIX):
            return "analysis", unquote(path[len(ANALYSIS_PREFIX):-len(ANALYSIS_SUFFIX)])
        return "other", None

    # ---- endpoints ------------------------------------------------------------------------------
    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        kind, _ = self._classify()
        entry = self._entry(kind)
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode()) if length else {}
        try:
            if kind != "token":
                self._error(entry, 404, "not_found")
                return
            state = self.server_state
            if state.world.token_status != 200:
                self._error(entry, state.world.token_status, "invalid_client")
                return
            expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                self._error(entry, 401, "invalid_client", (("WWW-Authenticate", 'Basic realm="idp"'),))
                return
            if form.get("grant_type") != ["client_credentials"]:
                self._error(entry, 400, "unsupported_grant_type")
                return
            self._send(entry, 200, json.dumps(state.issue_token()), (("Cache-Control", "no-store"),))
        finally:
            entry.end = time.time()

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        kind, account_id = self._classify()
        entry = self._entry(kind, account_id)
        state = self.server_state
        esg = kind in ("analysis", "feed")
        if esg:
            with state.lock:
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            if kind in ("token", "other"):
                self._error(entry, 404 if kind == "other" else 405, "not_found")
            elif not state.check_bearer(self.headers.get("Authorization"), entry):
                self._error(entry, 401, "invalid_token", (("WWW-Authenticate", 'Bearer error="invalid_token"'),))
            elif kind == "ams":
                self._ams(entry)
            elif kind == "feed":
                self._feed(entry)
            else:
                assert account_id is not None
                self._analysis(entry, account_id)
        finally:
            entry.end = time.time()
            if esg:
                with state.lock:
                    state.in_flight -= 1

    def _page(self, entry: Entry, items: list[Any], size: int) -> None:
        cursor = entry.query.get("cursor", [None])[0]
        try:
            start = _offset(cursor) if cursor is not None else 0
        except (ValueError, KeyError, json.JSONDecodeError):
            self._error(entry, 400, "bad_cursor")
            return
        page = items[start:start + size]
        nxt = _cursor(start + size) if start + size < len(items) else None
        self._send(entry, 200, json.dumps({"data": page, "next_cursor": nxt}))

    def _ams(self, entry: Entry) -> None:
        world = self.server_state.world
        if entry.query.get("status") != ["active"]:
            self._error(entry, 400, "status_required")
            return
        limit = entry.query.get("limit", ["1000"])[0]
        if not limit.isdigit() or not 1 <= int(limit) <= 1000:
            self._error(entry, 400, "bad_limit")
            return
        cursor = entry.query.get("cursor", [None])[0]
        if world.ams_failing_page is not None and cursor is not None and _offset(cursor) == world.ams_failing_page * world.ams_page_size:
            self._error(entry, 503, "unavailable")
            return
        self._page(entry, world.accounts, world.ams_page_size)

    def _feed(self, entry: Entry) -> None:
        world = self.server_state.world
        if world.feed is None:
            self._error(entry, 501, "not_implemented")
            return
        since = entry.query.get("since", [None])[0]
        if since is None:
            self._error(entry, 400, "since_required")
            return
        try:
            since_t = _parse_rfc3339(since)
        except ValueError:
            self._error(entry, 400, "bad_since")
            return
        items = [{"account_id": a, "changed_at": c} for a, c in world.feed if _parse_rfc3339(c) >= since_t]
        self._page(entry, items, world.feed_page_size)

    def _analysis(self, entry: Entry, account_id: str) -> None:
        state = self.server_state
        reply = state.next_reply(account_id)
        delay = state.world.latency(account_id) + (reply.delay if reply else 0.0)
        if delay:
            time.sleep(delay)
        if reply is None:
            self._error(entry, 404, "not_covered")
            return
        if reply.drop:
            self.close_connection = True
            return
        headers = reply.headers
        if reply.retry_after_date_s is not None:
            not_before = time.time() + reply.retry_after_date_s
            entry.retry_not_before = float(int(not_before))  # an HTTP-date has whole seconds
            headers = headers + (("Retry-After", formatdate(not_before, usegmt=True)),)
        headers = headers + (("X-RateLimit-Limit", "1000"), ("X-RateLimit-Remaining", "999"))
        self._send(entry, reply.status, reply.body, headers,
                   "text/plain" if reply.body and not reply.body.lstrip().startswith(("{", "[")) else "application/json")


def _parse_rfc3339(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
