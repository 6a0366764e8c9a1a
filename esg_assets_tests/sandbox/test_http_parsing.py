"""Raw-socket tests of the sandbox's HTTP/1.1 parsing (httptools, i.e. llhttp).

Each request here is one a hand-written parser got wrong: a signed or duplicated Content-Length
(accepted, so the body boundary was a guess), `Transfer-Encoding: CHUNKED` in capitals (the body
was read as the next request and a pipelined GET was lost), a bare-LF request (never answered).
Bytes go out exactly as written, so no client library normalises them first.
"""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator

import pytest

from esg_assets_tests.sandbox.harness import SandboxProcess

pytestmark = pytest.mark.integration
HEALTH = b"GET /_sandbox/health HTTP/1.1\r\nHost: sandbox\r\nConnection: close\r\n\r\n"
BASIC = base64.b64encode(b"sandbox-client:sandbox-secret")


@pytest.fixture(scope="module")
def sb() -> Iterator[SandboxProcess]:
    with SandboxProcess(accounts=20, seed=5) as sandbox:
        yield sandbox


def exchange(sb: SandboxProcess, data: bytes, timeout: float = 10.0) -> bytes:
    """Send `data` as is and read until the server closes the connection (or `timeout`)."""
    with socket.create_connection(("127.0.0.1", sb.port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks: list[bytes] = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass  # the assertions below say what was missing
    return b"".join(chunks)


def statuses(raw: bytes) -> list[int]:
    """The status codes of the responses in `raw`, in order (each has a Content-Length)."""
    out: list[int] = []
    while raw:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        assert sep, f"truncated response: {raw!r}"
        lines = head.split(b"\r\n")
        out.append(int(lines[0].split(b" ")[1]))
        length = next(int(v) for k, _, v in (h.partition(b":") for h in lines[1:]) if k.lower() == b"content-length")
        raw = rest[length:]
    return out


def post(headers: bytes, body: bytes) -> bytes:
    return b"POST /oauth2/token HTTP/1.1\r\nHost: sandbox\r\n" + headers + b"\r\n" + body


@pytest.mark.parametrize("length", [b"-3", b"+2", b"2, 3", b"0x2"])
def test_malformed_content_length_is_400(sb: SandboxProcess, length: bytes) -> None:
    raw = exchange(sb, post(b"Content-Length: " + length + b"\r\n", b"ab") + HEALTH)
    assert statuses(raw) == [400], raw
    assert b"Connection: close" in raw and b"malformed request: Invalid character in Content-Length" in raw


def test_empty_content_length_is_400(sb: SandboxProcess) -> None:
    raw = exchange(sb, post(b"Content-Length: \r\n", b"ab") + HEALTH)
    assert statuses(raw) == [400] and b"Empty Content-Length" in raw, raw


def test_conflicting_content_lengths_are_400(sb: SandboxProcess) -> None:
    raw = exchange(sb, post(b"Content-Length: 2\r\nContent-Length: 3\r\n", b"abc") + HEALTH)
    assert statuses(raw) == [400] and b"Duplicate Content-Length" in raw, raw


def test_content_length_with_transfer_encoding_is_400(sb: SandboxProcess) -> None:
    """Both framings at once is the classic smuggling request: refused, not guessed."""
    raw = exchange(sb, post(b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n") + HEALTH)
    assert statuses(raw) == [400], raw


@pytest.mark.parametrize("coding", [b"chunked", b"CHUNKED", b"Chunked"])
def test_chunked_body_is_parsed_and_the_pipelined_get_answered(sb: SandboxProcess, coding: bytes) -> None:
    body = b"grant_type=client_credentials"
    chunked = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (10, body[:10], len(body) - 10, body[10:])
    headers = (b"Authorization: Basic " + BASIC + b"\r\nContent-Type: application/x-www-form-urlencoded\r\n"
               b"Transfer-Encoding: " + coding + b"\r\n")
    raw = exchange(sb, post(headers, chunked) + HEALTH)
    assert statuses(raw) == [200, 200], raw
    assert b'"access_token"' in raw and raw.endswith(b'{"ok": true}')


def test_bare_lf_request_is_answered(sb: SandboxProcess) -> None:
    """RFC 9112 §2.2 lets a server refuse bare LF; what it may not do is leave the client hanging."""
    raw = exchange(sb, b"GET /_sandbox/health HTTP/1.1\nHost: sandbox\n\n", timeout=5.0)
    assert statuses(raw) == [400], raw
    assert b"malformed request" in raw


def test_pipelined_requests_are_answered_in_order_before_a_bad_one(sb: SandboxProcess) -> None:
    ok = b"GET /_sandbox/health HTTP/1.1\r\nHost: sandbox\r\n\r\n"
    raw = exchange(sb, ok + ok + b"GET / HTTP/1.1\r\nHost : sandbox\r\n\r\n" + ok)
    assert statuses(raw) == [200, 200, 400], raw


def test_delayed_answer_keeps_pipelined_order(sb: SandboxProcess) -> None:
    """A delayed analysis answer comes before the health check pipelined behind it."""
    token = sb.token()
    sb.config(latency_ms=200)
    try:
        analysis = (b"GET /esg/v1/accounts/ACC-0000001/esg-analysis HTTP/1.1\r\nHost: sandbox\r\n"
                    b"Authorization: Bearer " + token.encode() + b"\r\n\r\n")
        raw = exchange(sb, analysis + HEALTH)
    finally:
        sb.config(latency_ms=0)
    assert statuses(raw) == [200, 200], raw
    assert raw.index(b'"account_id"') < raw.index(b'{"ok": true}')


def test_oversized_head_and_body(sb: SandboxProcess) -> None:
    raw = exchange(sb, b"GET /_sandbox/health HTTP/1.1\r\nX-Big: " + b"a" * (70 * 1024) + b"\r\n\r\n")
    assert statuses(raw) == [431], raw
    raw = exchange(sb, post(b"Content-Length: 2000000\r\n", b"x" * 10))
    assert statuses(raw) == [413], raw


def test_http_1_0_closes_and_http_2_is_refused(sb: SandboxProcess) -> None:
    raw = exchange(sb, b"GET /_sandbox/health HTTP/1.0\r\n\r\n")
    assert statuses(raw) == [200] and b"Connection: close" in raw
    assert statuses(exchange(sb, b"GET /_sandbox/health HTTP/2.0\r\n\r\n")) == [505]


def test_upgrade_request_is_answered_then_closed(sb: SandboxProcess) -> None:
    """No protocol switch here: the request is served as plain HTTP/1.1, then the connection ends."""
    upgrade = b"GET /_sandbox/health HTTP/1.1\r\nHost: sandbox\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
    raw = exchange(sb, upgrade + HEALTH)
    assert statuses(raw) == [200] and b"Connection: close" in raw


def test_many_pipelined_requests_split_mid_head_are_all_answered(sb: SandboxProcess) -> None:
    """Chunk boundaries inside heads (as TCP may cut them) never add up to a false 431."""
    ok = b"GET /_sandbox/health HTTP/1.1\r\nHost: sandbox\r\nX-Pad: " + b"p" * 40 + b"\r\n\r\n"
    data = ok * 2999 + HEALTH
    with socket.create_connection(("127.0.0.1", sb.port), timeout=30) as sock:
        for start in range(0, len(data), 997):
            sock.sendall(data[start:start + 997])
        chunks: list[bytes] = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    assert statuses(b"".join(chunks)) == [200] * 3000


def test_a_head_that_never_ends_is_refused(sb: SandboxProcess) -> None:
    """A header line without end, sent in pieces, gets a 431 once it passes 64 KiB."""
    with socket.create_connection(("127.0.0.1", sb.port), timeout=30) as sock:
        sock.sendall(b"GET /_sandbox/health HTTP/1.1\r\nX-Endless: ")
        answer = b""
        for _ in range(200):
            try:
                sock.sendall(b"a" * 1024)
            except (BrokenPipeError, ConnectionResetError):
                break
            sock.settimeout(0.01)
            try:
                answer += sock.recv(65536)
            except TimeoutError:
                continue
            if answer:
                break
        sock.settimeout(10)
        while b"\r\n\r\n" not in answer and (chunk := sock.recv(65536)):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
