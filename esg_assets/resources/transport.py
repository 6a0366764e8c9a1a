"""The GET transport of the upstream clients: `http.client` keep-alive connections, pooled.

Why not `requests`/urllib3 for the GETs: at 1,000 req/s the client's own CPU per request is what
bounds one process (docs/benchmarks.md, B3); sequential keep-alive GETs measured 0.27-0.29 x the
CPU of requests' adapter with `http.client` alone. What requests gave for free is kept here:
a connect and a read timeout (both ESG_API_TIMEOUT_SECONDS), TLS verified against the trust of
`tls.upstream_context` (the system store, plus ESG_CA_BUNDLE when set), no redirect followed (a
3xx is an answer like any other), no proxy or .netrc, a connection found closed by the server replaced before it is used,
and every failure raised as the `requests` exception it was before (`http.failure_from_exception`
classifies them). The whole-response deadline and the body cap stay in `http.py`/`deadline.py`.
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
import threading
from collections import deque
from urllib.parse import urlencode, urlsplit

import requests

from esg_assets.resources import headers
from esg_assets.resources.tls import TrustContexts


def _failure(cls: type[requests.RequestException], message: str, url: str) -> requests.RequestException:
    """A requests exception carrying the URL's request (for the host in a TLS error), no body."""
    request = requests.PreparedRequest()
    request.url = url
    return cls(message, request=request)


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """The server closed an idle connection (keep-alive end): readable with nothing asked."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        poller = select.poll()  # not select(): no limit on the descriptor's number
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


class Transport:
    """Keep-alive connections per origin (scheme, host, port), at most `pool_size` kept idle;
    a thread takes one for the whole exchange and gives it back once the body is read."""

    def __init__(self, pool_size: int) -> None:
        headers.install()  # the answers' header blocks parsed directly (headers.py)
        self._pool_size = pool_size
        self._idle: dict[tuple[str, str, int, str | bool], deque[http.client.HTTPConnection]] = {}
        self._contexts = TrustContexts()
        self._lock = threading.Lock()
        self._closed = False

    def take(self, url: str, params: object, timeout: float, verify: str | bool) -> tuple[
            tuple[str, str, int, str | bool], http.client.HTTPConnection, str]:
        """(pool key, a connection, the request target) for `url` with `params` encoded."""
        parts = urlsplit(url)
        scheme, host = parts.scheme.lower(), parts.hostname
        if scheme not in ("http", "https") or not host:
            raise _failure(requests.exceptions.InvalidURL, "not an http(s) URL", url)
        port = parts.port or (443 if scheme == "https" else 80)
        target = parts.path or "/"
        query = "&".join(q for q in (parts.query, urlencode(params, doseq=True) if params else "") if q)
        if query:
            target += "?" + query
        key = (scheme, host, port, verify if scheme == "https" else False)
        idle = self._idle.get(key)
        while idle:
            try:
                conn = idle.pop()
            except IndexError:
                break
            if not _dropped(conn):
                conn.timeout = timeout
                conn.sock.settimeout(timeout)  # type: ignore[union-attr]
                return key, conn, target
            conn.close()
        if scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=self._contexts.get(verify))
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        self.connect(conn, url)
        return key, conn, target

    @staticmethod
    def connect(conn: http.client.HTTPConnection, url: str) -> None:
        """Open `conn` (TCP, then TLS), each step within the connect timeout."""
        try:
            conn.connect()
        except (TimeoutError, socket.timeout):
            conn.close()
            raise _failure(requests.exceptions.ConnectTimeout, "connect timeout", url) from None
        except ssl.SSLError as err:
            conn.close()
            raise _failure(requests.exceptions.SSLError, type(err).__name__, url) from err
        except OSError as err:
            conn.close()
            raise _failure(requests.ConnectionError, type(err).__name__, url) from None

    def give_back(self, key: tuple[str, str, int, str | bool], conn: http.client.HTTPConnection) -> None:
        """Keep `conn` for the next request, unless the server said it closes or the pool is full."""
        idle = self._idle.get(key)
        if idle is None:
            with self._lock:
                idle = self._idle.setdefault(key, deque())
        if conn.sock is None or self._closed or len(idle) >= self._pool_size:
            conn.close()
            return
        idle.append(conn)

    def close(self) -> None:
        self._closed = True
        with self._lock:
            pools = list(self._idle.values())
        for idle in pools:
            while idle:
                try:
                    idle.pop().close()
                except IndexError:
                    break
