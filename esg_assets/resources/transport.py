"""The GET transport of the upstream clients: keep-alive sockets, pooled, speaking HTTP/1.1
through `wire.py` (the request written in one send, the answer read by our own reader).

Why not `requests`/urllib3 for the GETs: at 1,000 req/s the client's own CPU per request is what
bounds one process (docs/benchmarks.md, B3); why not `http.client` either: its exchange was over
half of the fetch's CPU (docs/benchmarks.md, "A response reader of our own"). What requests gave
for free is kept here: a connect and a read timeout (both ESG_API_TIMEOUT_SECONDS), TLS verified
against the trust of `tls.upstream_context` (the system store, plus ESG_CA_BUNDLE when set), no
redirect followed (a 3xx is an answer like any other), no proxy or .netrc, a connection found
closed by the server replaced before it is used, and every failure raised as a `requests`
exception (`http.failure_from_exception` classifies them). The origin of a URL (scheme, host,
port, the Host line) is parsed once per origin, not per request.
"""

from __future__ import annotations

import datetime
import re
import select
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Protocol
from urllib.parse import urlencode, urlsplit

import requests
from requests.cookies import RequestsCookieJar
from requests.structures import CaseInsensitiveDict

from esg_assets.resources.tls import TrustContexts
from esg_assets.resources.wire import Answer, MalformedAnswer, ResponseTooLarge, ResponseTooSlow, Wire

_ORIGIN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")
_BAD_TARGET = re.compile(r"[^!-~]")  # what http.client refuses in a target: controls, space, non-ASCII
_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # a field name is a token
_BAD_VALUE = re.compile(r"[\r\n\x00]")  # a value may not end its line or hold a NUL


class Ending(Protocol):
    """What is told once the request's bytes are out, or failed to be (`http.Turn.close`)."""

    def close(self) -> None: ...


class Answered(requests.Response):
    """A `requests.Response` with its body read, as the clients and `http.failure_from_exception`
    know it, made without what `requests.Response()` builds for every answer and nothing here
    uses (a cookie jar, 6 µs of the fetch's CPU per answer; made on first use) and with the
    fields taken as they were read (no second case-folding pass)."""

    raw = encoding = request = connection = _next = None
    elapsed = datetime.timedelta(0)

    def __init__(self, answer: Answer, url: str) -> None:  # requests' own __init__ is not run, on purpose
        self.status_code, self.reason, self.url = answer.status, answer.reason, url
        self._content, self._content_consumed = answer.body, True
        self.headers = headers = CaseInsensitiveDict.__new__(CaseInsensitiveDict)
        headers._store = answer.fields  # type: ignore[attr-defined] # noqa: SLF001 - its own layout
        self.history = []

    @property
    def cookies(self) -> RequestsCookieJar:  # type: ignore[override]
        jar = self.__dict__.get("_cookies")
        if jar is None:
            jar = self.__dict__["_cookies"] = RequestsCookieJar()
        return jar

    @cookies.setter
    def cookies(self, jar: RequestsCookieJar) -> None:
        self.__dict__["_cookies"] = jar


def _failure(cls: type[requests.RequestException], message: str, url: str) -> requests.RequestException:
    """A requests exception carrying the URL's request (for the host in a TLS error), no body."""
    request = requests.PreparedRequest()
    request.url = url
    return cls(message, request=request)


class _Conn(Wire):
    """A pooled socket, with a poller on it to see an idle connection the server closed."""

    __slots__ = ("poller",)

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock)
        self.poller = select.poll()  # not select(): no limit on the descriptor's number
        self.poller.register(sock, select.POLLIN)

    def dropped(self) -> bool:
        """The server closed an idle connection (keep-alive end): readable with nothing asked."""
        try:
            return bool(self.poller.poll(0))
        except (OSError, ValueError):
            return True


class _Origin:
    """scheme://host:port of the URLs, parsed once: where to connect, the request's Host line,
    and the idle connections (shared by every spelling of the same origin and trust)."""

    __slots__ = ("host", "port", "tls", "verify", "head", "idle")

    def __init__(self, host: str, port: int, tls: bool, verify: str | bool, idle: deque[_Conn]) -> None:
        self.host, self.port, self.tls, self.verify, self.idle = host, port, tls, verify, idle
        try:
            name = host.encode("ascii").decode()
        except UnicodeEncodeError:
            name = host.encode("idna").decode()
        name = f"[{name}]" if ":" in name else name
        if port != (443 if tls else 80):
            name = f"{name}:{port}"
        self.head = f"Host: {name}\r\nAccept-Encoding: identity\r\n"


class Transport:
    """Keep-alive connections per origin (scheme, host, port, trust), at most `pool_size` kept
    idle; a thread takes one for the whole exchange and gives it back once the body is read."""

    def __init__(self, pool_size: int) -> None:
        self._pool_size = pool_size
        self._origins: dict[tuple[str, str | bool], _Origin] = {}
        self._idle: dict[tuple[str, str, int, str | bool], deque[_Conn]] = {}
        self._contexts = TrustContexts()
        self._lock = threading.Lock()
        self._closed = False

    def get(self, url: str, params: object, fields: Mapping[str, str], timeout: float, verify: str | bool,
            deadline: float, written: Ending | None) -> requests.Response:
        """GET `url` (`params` encoded into its query) with `fields`, the answer read in full by
        `deadline`; `written.close()` once the request is out (or failed to be)."""
        match = _ORIGIN.match(url)
        if match is None:
            raise _failure(requests.exceptions.InvalidURL, "not an http(s) URL", url)
        origin = self._origins.get((match.group(), verify)) or self._origin(match.group(), verify, url)
        request = _request(url[match.end():], params, origin, fields)
        conn = self._take(origin, timeout, url)
        try:
            try:
                conn.sock.sendall(request)
            finally:
                if written is not None:
                    written.close()
            answer = conn.read_answer(deadline, timeout)
        except BaseException as err:
            conn.sock.close()
            if isinstance(err, (ResponseTooSlow, ResponseTooLarge)) or not isinstance(err, OSError):
                raise
            if time.monotonic() >= deadline:  # a receive cut at the deadline (wire.py)
                raise ResponseTooSlow("the whole response took longer than its deadline") from None
            if isinstance(err, MalformedAnswer):
                raise
            if isinstance(err, TimeoutError):
                raise requests.exceptions.ReadTimeout("read timeout") from None
            raise requests.ConnectionError(type(err).__name__) from None
        if time.monotonic() >= deadline:
            conn.sock.close()
            raise ResponseTooSlow("the whole response took longer than its deadline")
        self._give_back(origin, conn, answer.reusable)
        return Answered(answer, url)

    def _origin(self, prefix: str, verify: str | bool, url: str) -> _Origin:
        parts = urlsplit(prefix)
        scheme, host = parts.scheme.lower(), parts.hostname
        try:
            port = parts.port
        except ValueError:
            port, host = None, None
        if scheme not in ("http", "https") or not host:
            raise _failure(requests.exceptions.InvalidURL, "not an http(s) URL", url)
        tls = scheme == "https"
        port = port or (443 if tls else 80)
        with self._lock:
            idle = self._idle.setdefault((scheme, host, port, verify if tls else False), deque())
            origin = self._origins[(prefix, verify)] = _Origin(host, port, tls, verify, idle)
        return origin

    def _take(self, origin: _Origin, timeout: float, url: str) -> _Conn:
        idle = origin.idle
        while idle:
            try:
                conn = idle.pop()
            except IndexError:
                break
            if not conn.dropped():
                conn.sock.settimeout(timeout)
                return conn
            conn.sock.close()
        return self._connect(origin, timeout, url)

    def _connect(self, origin: _Origin, timeout: float, url: str) -> _Conn:
        """A new connection to `origin` (TCP, then TLS), each step within the connect timeout."""
        sock: socket.socket | None = None
        try:
            sock = socket.create_connection((origin.host, origin.port), timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if origin.tls:
                sock = self._contexts.get(origin.verify).wrap_socket(sock, server_hostname=origin.host)
            return _Conn(sock)
        except BaseException as err:
            if sock is not None:
                sock.close()
            if isinstance(err, TimeoutError):
                raise _failure(requests.exceptions.ConnectTimeout, "connect timeout", url) from None
            if isinstance(err, ssl.SSLError):
                raise _failure(requests.exceptions.SSLError, type(err).__name__, url) from err
            if isinstance(err, OSError):
                raise _failure(requests.ConnectionError, type(err).__name__, url) from None
            raise

    def _give_back(self, origin: _Origin, conn: _Conn, reusable: bool) -> None:
        """Keep `conn` for the next request, unless the answer ended it or the pool is full."""
        if not reusable or self._closed or len(origin.idle) >= self._pool_size:
            conn.sock.close()
            return
        origin.idle.append(conn)

    def close(self) -> None:
        self._closed = True
        with self._lock:
            pools = list(self._idle.values())
        for idle in pools:
            while idle:
                try:
                    idle.pop().sock.close()
                except IndexError:
                    break


def _request(rest: str, params: object, origin: _Origin, fields: Mapping[str, str]) -> bytes:
    """The request's bytes: `rest` of the URL (path and query, no fragment) as the target,
    `params` appended to its query, the Host line, then `fields`."""
    target = rest.partition("#")[0]
    if not target.startswith("/"):
        target = "/" + target
    if params:
        target += ("&" if "?" in target else "?") + urlencode(params, doseq=True)  # type: ignore[arg-type]
    if _BAD_TARGET.search(target):
        raise requests.exceptions.InvalidURL("a request target with a space, a control or a non-ASCII character")
    for name, value in fields.items():
        if not _NAME.fullmatch(name) or _BAD_VALUE.search(value):
            raise requests.exceptions.InvalidHeader("a header name or value that cannot be sent")
    lines = "".join(f"{name}: {value}\r\n" for name, value in fields.items())
    try:
        return f"GET {target} HTTP/1.1\r\n{origin.head}{lines}\r\n".encode("latin-1")
    except UnicodeEncodeError:
        raise requests.exceptions.InvalidHeader("a header value outside Latin-1") from None
