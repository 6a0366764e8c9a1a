"""Every parse rule of the transport's own HTTP/1.1 reader (`resources/wire.py`), through
`http.send_get` against a loopback server sending scripted raw bytes: the request's bytes, the
framings (Content-Length, chunked, to the end), when a connection is kept or closed, the limits
(65,536-byte lines, 100 fields, the body cap) and every malformed answer, which fails as a
connection error naming its rule; and `http.client` left as it is for the rest of the process."""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests

from esg_assets.domain.models import ErrorKind
from esg_assets.resources.http import failure_from_exception, make_session, send_get
from esg_assets.resources.wire import MAX_BODY_BYTES, MalformedAnswer, ResponseTooLarge, ResponseTooSlow
from esg_assets_tests.resources.raw_server import Raw, RawServer, raw_serving

OK = Raw(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")


@contextmanager
def answering(*answers: Raw) -> Iterator[tuple[RawServer, requests.Session]]:
    with raw_serving(*answers) as server:
        session = make_session(2)
        try:
            yield server, session
        finally:
            session.close()


def get(server: RawServer, session: requests.Session, path: str = "/a",
        headers: dict[str, str] | None = None) -> requests.Response:
    return send_get(session, server.url(path), None, headers or {}, 2.0, True)  # type: ignore[arg-type]


def one(data: bytes) -> requests.Response:
    with answering(Raw(data, close=True)) as (server, session):
        return get(server, session)


def test_the_request_is_one_get_with_host_identity_and_the_fields() -> None:
    with answering(OK) as (server, session):
        get(server, session, "/x/y?b=1#frag", {"Accept": "application/json", "Authorization": "Bearer t"})
    assert server.requests == [
        b"GET /x/y?b=1 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept-Encoding: identity\r\n"
        b"User-Agent: esg-ratings-batch/0.1\r\nAccept: application/json\r\nAuthorization: Bearer t\r\n\r\n"
        % server.port]


@pytest.mark.parametrize(("headers", "path", "error"), [
    ({"Authorization": "Bearer t\r\nX-Injected: 1"}, "/a", requests.exceptions.InvalidHeader),
    ({"Bad Name": "v"}, "/a", requests.exceptions.InvalidHeader),
    ({"X": "caf\u20ac"}, "/a", requests.exceptions.InvalidHeader),
    ({}, "/a b", requests.exceptions.InvalidURL),
])
def test_a_request_that_cannot_be_written_is_refused_before_any_byte(headers: dict, path: str, error: type) -> None:
    with answering(OK) as (server, session), pytest.raises(error):
        get(server, session, path, headers)
    assert server.connections == 0


def test_content_length_bodies_on_one_kept_connection() -> None:
    with answering(Raw(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
                   Raw(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")) as (server, session):
        first, second = get(server, session), get(server, session)
    assert (first.status_code, first.reason, first.content) == (200, "OK", b"hello")
    assert (second.status_code, second.reason, second.content) == (404, "Not Found", b"")
    assert server.connections == 1


def test_fields_repeated_joined_case_insensitive_whitespace_trimmed_bare_lf_accepted() -> None:
    response = one(b"HTTP/1.1 429 \nRetry-After: \t 7 \t\nX-A: 1\nx-a: 2\nX-Empty:\nContent-Length: 3\n\nabc")
    assert response.headers["retry-after"] == "7" and response.headers["X-A"] == "1, 2"
    assert response.headers["x-empty"] == "" and response.content == b"abc" and response.reason == ""


def test_a_chunked_body_with_extensions_and_trailers_and_the_connection_kept() -> None:
    chunked = Raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n"
                  b"3;ext=1\r\nabc\r\n0A\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n")
    with answering(chunked, OK) as (server, session):
        assert get(server, session).content == b"abc0123456789"
        assert get(server, session).content == b"{}"
    assert server.connections == 1


@pytest.mark.parametrize("head", [
    b"HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 2\r\n\r\n",
    b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n",
    b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n",
])
def test_connection_close_and_http_1_0_answers_end_the_connection(head: bytes) -> None:
    with answering(Raw(head + b"{}")) as (server, session):
        assert get(server, session).content == b"{}"
        assert get(server, session).content == b"{}"
    assert server.connections == 2


def test_an_answer_without_framing_is_read_to_the_end_of_the_connection() -> None:
    with answering(Raw(b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 200_000, close=True)) as (server, session):
        assert get(server, session).content == b"x" * 200_000
        assert get(server, session).content == b"x" * 200_000
    assert server.connections == 2


def test_bytes_past_the_answer_end_the_connection() -> None:
    with answering(Raw(OK.data + b"HTTP/1.1 200 OK\r\n")) as (server, session):
        assert get(server, session).content == b"{}"
        assert get(server, session).content == b"{}"
    assert server.connections == 2


@pytest.mark.parametrize("status", [204, 304])
def test_204_and_304_have_no_body_and_keep_the_connection(status: int) -> None:
    with answering(Raw(b"HTTP/1.1 %d X\r\n\r\n" % status), OK) as (server, session):
        assert get(server, session).content == b""
        assert get(server, session).content == b"{}"
    assert server.connections == 1


def test_interim_answers_are_skipped() -> None:
    response = one(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + OK.data)
    assert (response.status_code, response.content) == (200, b"{}") and "link" not in response.headers


def test_the_limits_are_http_client_s_lines_of_65536_and_100_fields() -> None:
    longest = b"X-Long: " + b"v" * (65536 - 10) + b"\r\n"  # 65,536 bytes with its CRLF
    assert len(one(b"HTTP/1.1 200 OK\r\n" + longest + b"Content-Length: 0\r\n\r\n").headers["x-long"]) == 65526
    fields = b"".join(b"X-%d: v\r\n" % i for i in range(99))
    assert one(b"HTTP/1.1 200 OK\r\n" + fields + b"Content-Length: 0\r\n\r\n").status_code == 200
    with pytest.raises(MalformedAnswer, match="longer than 65536"):
        one(b"HTTP/1.1 200 OK\r\nX-Long: v" + longest[8:] + b"\r\n")  # 65,537 bytes
    with pytest.raises(MalformedAnswer, match="more than 100 header fields"):
        one(b"HTTP/1.1 200 OK\r\n" + fields + b"X-a: 1\r\nContent-Length: 0\r\n\r\n")
    with pytest.raises(MalformedAnswer, match="more than 100 header fields"):  # never ending
        one(b"HTTP/1.1 200 OK\r\n" + b"X: v\r\n" * 5000)
    with pytest.raises(MalformedAnswer, match="longer than 65536"):  # a line that never ends
        one(b"HTTP/1.1 200 OK\r\nX: " + b"v" * 200_000)


@pytest.mark.parametrize("status_line", [
    b"HTTP/1.1 20 OK", b"HTTP/1.1 2000 OK", b"HTTP/1.1 +20 OK", b"HTTP/1.1 200OK", b"HTTP/2 200 OK",
    b"HTTP/1.2 200 OK", b"http/1.1 200 OK", b"ICY 200 OK", b"HTTP/1.1  200 OK", b"garbage", b"",
    b"HTTP/1.1 099 X", b"HTTP/1.1 101 Switching Protocols",
])
def test_a_malformed_status_line_is_a_malformed_answer(status_line: bytes) -> None:
    with pytest.raises(MalformedAnswer, match="status line|101"):
        one(status_line + b"\r\nContent-Length: 0\r\n\r\n")


@pytest.mark.parametrize("line", [
    b"X-Folded: a\r\n b", b"Name : v", b"no colon", b": v", b"X-Nul: a\x00b", b"X-Cr: a\rb", b"X-Caf\xe9: v",
])
def test_a_malformed_header_line_is_a_malformed_answer(line: bytes) -> None:
    with pytest.raises(MalformedAnswer, match="header line"):
        one(b"HTTP/1.1 200 OK\r\n" + line + b"\r\nContent-Length: 0\r\n\r\n")


@pytest.mark.parametrize(("framing", "rule"), [
    (b"Content-Length: abc\r\n", "Content-Length"),
    (b"Content-Length: -1\r\n", "Content-Length"),
    (b"Content-Length: 1, 2\r\n", "Content-Length"),
    (b"Content-Length: 2\r\nContent-Length: 3\r\n", "Content-Length"),
    (b"Transfer-Encoding: gzip, chunked\r\n", "Transfer-Encoding"),
    (b"Transfer-Encoding: chunked\r\nContent-Length: 2\r\n", "both"),
])
def test_invalid_framing_fields_are_a_malformed_answer(framing: bytes, rule: str) -> None:
    with pytest.raises(MalformedAnswer, match=rule):
        one(b"HTTP/1.1 200 OK\r\n" + framing + b"\r\n{}")


def test_equal_repeated_content_lengths_are_one() -> None:
    assert one(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}").content == b"{}"


@pytest.mark.parametrize(("chunks", "rule"), [
    (b"zz\r\nab\r\n0\r\n\r\n", "chunk size"),
    (b"0x2\r\nab\r\n0\r\n\r\n", "chunk size"),
    (b"\r\nab\r\n0\r\n\r\n", "chunk size"),
    (b"2\r\nabc\r\n0\r\n\r\n", "not followed by CRLF"),
    (b"2" + b"0" * 70_000 + b"\r\n", "longer than 65536"),
    (b"5\r\nab", "ended"),
    (b"2\r\nab\r\n", "ended"),
    (b"2\r\nab\r\n0\r\n" + b"X: v\r\n" * 101 + b"\r\n", "trailer"),
])
def test_invalid_chunking_is_a_malformed_answer(chunks: bytes, rule: str) -> None:
    with pytest.raises(MalformedAnswer, match=rule):
        one(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks)


@pytest.mark.parametrize(("answer", "rule"), [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 10, "before the body's Content-Length"),
    (b"HTTP/1.1 200 OK\r\nContent-Len", "before the answer's head"),
    (b"", "without an answer"),
])
def test_an_answer_cut_short_is_a_malformed_answer(answer: bytes, rule: str) -> None:
    with pytest.raises(MalformedAnswer, match=rule):
        one(answer)


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY_BYTES + 1),
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + (b"100000\r\n" + b"x" * 0x100000 + b"\r\n") * 9,
    b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * (MAX_BODY_BYTES + 1),
])
def test_a_body_above_the_cap_is_too_large_in_every_framing(answer: bytes) -> None:
    with pytest.raises(ResponseTooLarge):
        one(answer)


def test_a_malformed_answer_is_a_retryable_connection_failure() -> None:
    with pytest.raises(MalformedAnswer) as caught:
        one(b"garbage\r\n\r\n")
    failure = failure_from_exception(caught.value, 2.0)
    assert (failure.kind, failure.http_status, failure.retryable) == (ErrorKind.CONNECTION, None, True)


def test_http_client_is_left_as_it_is_for_every_other_user() -> None:
    """The transport once replaced `http.client.parse_headers` for the whole process (boto3's
    and requests' answers too)."""
    one(OK.data)
    patched = [name for name, value in vars(http.client).items()
               if callable(value) and (getattr(value, "__module__", None) or "").startswith("esg_assets")]
    assert patched == []


def test_a_silent_server_is_a_read_timeout_after_the_read_timeout_not_the_deadline() -> None:
    with answering(Raw(b"")) as (server, session):
        started = time.monotonic()
        with pytest.raises(requests.exceptions.ReadTimeout) as caught:
            send_get(session, server.url(), None, {}, 1.0, True)  # type: ignore[arg-type]
        waited = time.monotonic() - started
    assert not isinstance(caught.value, ResponseTooSlow) and waited >= 0.9


def test_the_answer_is_a_requests_response_as_the_clients_read_it() -> None:
    response = one(b"HTTP/1.1 503 Busy\r\nContent-Type: application/json\r\nRetry-After: 2\r\n"
                   b"Content-Length: 11\r\n\r\n{\"a\": \"\xc3\xa9\"}")
    assert isinstance(response, requests.Response) and not response.ok and response.json() == {"a": "\u00e9"}
    assert response.headers.get("retry-after") == "2" and dict(response.headers.lower_items())["content-type"]
    assert response.text.startswith('{"a": ') and len(response.cookies) == 0 and response.history == []
    with pytest.raises(requests.HTTPError, match="503 Server Error: Busy"):
        response.raise_for_status()
