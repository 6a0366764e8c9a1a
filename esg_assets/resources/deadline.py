"""The whole-response deadline of every upstream request, headers included.

A socket timeout bounds each receive, not the response: a server that drips its status line and
headers one byte at a time stays within any read timeout for ever. One watchdog thread per
process holds the deadlines of the requests waiting for their answer and shuts the socket of any
request past its deadline down, which ends the blocked receive; the request then fails as
`ResponseTooSlow` (a timeout: retried like any other). The connection classes below register
their socket when they start reading the answer; `whole_response` sets the deadline for the
requests made in its block (a thread-local: the connection pool runs in the caller's thread).
This is for the requests made through `requests` (the token POST); the GETs' own reader
(`wire.py`) cuts each receive's timeout to what is left of the deadline and needs no watchdog.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_local = threading.local()


class _Watchdog:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, socket.socket]] = []
        self._live: set[int] = set()
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: float, sock: socket.socket) -> int:
        with self._cond:
            ident = next(self._ids)
            heapq.heappush(self._heap, (deadline, ident, sock))
            self._live.add(ident)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="esg-response-deadline", daemon=True)
                self._thread.start()
            if self._heap[0][1] == ident:
                self._cond.notify()
            return ident

    def cancel(self, ident: int) -> None:
        with self._cond:
            self._live.discard(ident)

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][1] not in self._live:
                    heapq.heappop(self._heap)  # answered in time (cancelled lazily)
                if not self._heap:
                    self._cond.wait()
                    continue
                deadline, ident, sock = self._heap[0]
                remaining = deadline - time.monotonic()
                if remaining > 0:
                    self._cond.wait(remaining)
                    continue
                heapq.heappop(self._heap)
                self._live.discard(ident)
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # already closed


_WATCHDOG = _Watchdog()


@contextmanager
def whole_response(deadline: float) -> Iterator[None]:
    """Requests made in this block (in this thread) are cut off at `deadline` (monotonic)."""
    previous = getattr(_local, "deadline", None)
    _local.deadline, _local.watches = deadline, []
    try:
        yield
    finally:
        for ident in _local.watches:
            _WATCHDOG.cancel(ident)
        _local.deadline, _local.watches = previous, []


def past_deadline() -> bool:
    deadline = getattr(_local, "deadline", None)
    return deadline is not None and time.monotonic() >= deadline


def watch(sock: socket.socket | None) -> None:
    """Cut `sock` at the deadline of the enclosing `whole_response` block (if any): called
    when the answer starts being read, by urllib3's connections below."""
    deadline = getattr(_local, "deadline", None)
    if deadline is not None and sock is not None:
        _local.watches.append(_WATCHDOG.watch(deadline, sock))


class _Watched:
    """Registers the socket with the watchdog when the answer starts being read."""

    sock: Any

    def getresponse(self) -> Any:  # noqa: ANN401 - urllib3's own type
        watch(self.sock)
        return super().getresponse()  # type: ignore[misc]


class _Connection(_Watched, HTTPConnection):
    pass


class _TlsConnection(_Watched, HTTPSConnection):
    pass


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _TlsPool(HTTPSConnectionPool):
    ConnectionCls = _TlsConnection


POOL_CLASSES = {"http": _Pool, "https": _TlsPool}
