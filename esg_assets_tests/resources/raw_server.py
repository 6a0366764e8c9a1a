"""A loopback TCP server that answers each request with scripted raw bytes, so the transport's
reader can be shown answers no HTTP library would write (bare LFs, 101 header fields, broken
chunking, a body cut short). It records each request's bytes and each connection it accepted."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Raw:
    """What to send to one request; `close`: close the connection after it."""

    data: bytes
    close: bool = False


@dataclass
class RawServer:
    answers: list[Raw]
    port: int = 0
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0

    def url(self, path: str = "/a") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            buf = b""
            while True:
                while b"\r\n\r\n" not in buf:
                    try:
                        data = conn.recv(65536)
                    except OSError:
                        return  # the client reset the connection (it gave up on an answer)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                self.requests.append(head + b"\r\n\r\n")
                answer = self.answers[min(len(self.requests) - 1, len(self.answers) - 1)]
                try:
                    conn.sendall(answer.data)
                except OSError:
                    return  # the client gave up (a body above the cap)
                if answer.close:
                    try:
                        conn.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass  # the client already closed its side
                    return


@contextmanager
def raw_serving(*answers: Raw) -> Iterator[RawServer]:
    """The server on a free loopback port, answering the n-th request with answers[n] (the last repeats)."""
    server = RawServer(list(answers))
    listener = socket.create_server(("127.0.0.1", 0))
    server.port = listener.getsockname()[1]
    threads: list[threading.Thread] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # the listener was closed: the test is over
            server.connections += 1
            thread = threading.Thread(target=server._serve, args=(conn,), daemon=True)  # noqa: SLF001
            thread.start()
            threads.append(thread)

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield server
    finally:
        listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (close alone does not)
        listener.close()
        acceptor.join(5)
        for thread in threads:
            thread.join(5)
