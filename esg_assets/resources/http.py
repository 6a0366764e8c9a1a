"""One HTTP attempt: pooled keep-alive connections, a timeout on every request, errors as values.

GETs (every AMS page, feed page and analysis) go through `transport.py` (our own HTTP/1.1
reader, `wire.py`); the token POST, a few per run, through `requests`. Both give back a `requests.Response` with its
body read, or raise a `requests` exception, so the clients see one interface."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Mapping
from typing import Protocol
from urllib.parse import urlsplit

import requests
import urllib3

from esg_assets.domain.models import AttemptFailure, ErrorKind
from esg_assets.resources.deadline import POOL_CLASSES, past_deadline, whole_response
from esg_assets.resources.tls import TrustAdapter
from esg_assets.resources.transport import Transport
from esg_assets.resources.wire import MAX_BODY_BYTES, ResponseTooLarge, ResponseTooSlow

USER_AGENT = "esg-ratings-batch/0.1"
_READ_CHUNK = 64 * 1024


def read_body(response: requests.Response, deadline: float) -> requests.Response:
    """Read a streamed response's body into `response.content`, by `deadline` (monotonic) and
    within MAX_BODY_BYTES; raises ResponseTooSlow / ResponseTooLarge (and closes) otherwise."""
    body = bytearray()
    raw = response.raw
    try:
        # read1: whatever one receive brings (read(n) would wait for n bytes, so a slow drip
        # would never reach the deadline check).
        while chunk := raw.read1(_READ_CHUNK, decode_content=True):
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise ResponseTooLarge(f"body larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB")
            if time.monotonic() > deadline:
                raise ResponseTooSlow("the whole response took longer than its deadline")
    except requests.RequestException:  # first: requests' errors are OSErrors too
        response.close()
        if past_deadline():
            raise ResponseTooSlow("the whole response took longer than its deadline") from None
        raise
    except urllib3.exceptions.ReadTimeoutError as err:
        response.close()
        raise requests.exceptions.ReadTimeout(str(err)) from None
    except (urllib3.exceptions.HTTPError, OSError) as err:
        response.close()
        if past_deadline():
            raise ResponseTooSlow("the whole response took longer than its deadline") from None
        raise requests.exceptions.ConnectionError(type(err).__name__) from None
    response._content = bytes(body)  # noqa: SLF001 - what requests itself sets after reading
    response._content_consumed = True  # noqa: SLF001
    return response


def response_deadline(timeout: float) -> float:
    """The monotonic instant by which a request sent now must be answered in full: the
    connect timeout plus the read timeout (configuration.md: each ESG_API_TIMEOUT_SECONDS)."""
    return time.monotonic() + 2 * timeout


class _DeadlineAdapter(TrustAdapter):
    """requests' adapter whose connections honour `deadline.whole_response` and verify TLS
    as the GETs do (`tls.TrustAdapter`)."""

    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        super().init_poolmanager(*args, **kwargs)  # type: ignore[arg-type]
        self.poolmanager.pool_classes_by_scheme = POOL_CLASSES


class HttpSession(requests.Session):
    """A requests session (the token POST) that also holds the GET transport's connections."""

    def __init__(self, pool_size: int) -> None:
        super().__init__()
        self.transport = Transport(pool_size)

    def close(self) -> None:
        self.transport.close()
        super().close()


def make_session(pool_size: int) -> HttpSession:
    """A session whose connection pool fits every worker, with no automatic retries
    (the retry policy lives in `retry.py`) and no proxies or .netrc taken from the environment
    that could leak credentials."""
    session = HttpSession(pool_size)
    session.trust_env = False
    adapter = _DeadlineAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


class Turn(Protocol):
    """The moment a GET is written (BearerGetter's): `open()` is called before the connection is
    taken and gives the headers to add (the token, taken at that moment); `close()` as soon as
    the request is written, or failed to be (called again, it does nothing)."""

    def open(self) -> Mapping[str, str]: ...

    def close(self) -> None: ...


def send_get(
    session: HttpSession,
    url: str,
    params: Mapping[str, str] | None,
    headers: Mapping[str, str],
    timeout: float,
    verify: str | bool,
    turn: Turn | None = None,
) -> requests.Response:
    """GET `url` on a keep-alive connection of the session's transport, body read, all within
    the whole-response deadline (connect + read timeout) and the body cap.

    `turn` (the rate limiter's gate, BearerGetter) is held from before the connection is taken
    until the request is written, so a request is counted when its bytes are out and its token
    is the newest at that moment; the deadline starts once the turn has come (a wait for the
    rate is no part of the response's time). The body is read before returning, so the caller's
    in-flight place covers the whole exchange. Only `User-Agent` and the caller's headers are
    sent, with `Accept-Encoding: identity` (the answer is not compressed, so the body cap is on
    the bytes that are parsed)."""
    added = turn.open() if turn is not None else {}
    try:
        return session.transport.get(url, params, {"User-Agent": USER_AGENT, **headers, **added}, timeout,
                                     verify, response_deadline(timeout), turn)
    finally:
        if turn is not None:
            turn.close()


def send_post_form(
    session: requests.Session, url: str, data: Mapping[str, str], auth: tuple[str, str], timeout: float,
    verify: str | bool,
) -> requests.Response:
    """POST a form (the token endpoint) with the same whole-response deadline and body cap."""
    return _within_deadline(timeout, lambda: session.post(
        url, data=data, auth=auth, timeout=(timeout, timeout), verify=verify, allow_redirects=False, stream=True))


def _within_deadline(timeout: float, send: Callable[[], requests.Response]) -> requests.Response:
    """`send()` and read its body, all by the whole-response deadline (connect + read timeout):
    the watchdog (deadline.py) cuts a connection still waiting for its headers then."""
    deadline = response_deadline(timeout)
    with whole_response(deadline):
        try:
            response = send()
        except requests.ConnectionError:
            if time.monotonic() >= deadline:
                raise ResponseTooSlow("the whole response took longer than its deadline") from None
            raise
        response = read_body(response, deadline)
    # Past the deadline, the watchdog may have cut the headers short: http.client then takes
    # the end of the stream for the end of the headers and hands back a truncated answer.
    if time.monotonic() >= deadline:
        response.close()
        raise ResponseTooSlow("the whole response took longer than its deadline")
    return response


class TlsVerificationError(RuntimeError):
    """An upstream's certificate could not be verified: a critical error of the run
    (docs/spec.md#storage), never a Failed row per account, since every call to that host would fail alike and
    retrying cannot help (the operator must fix the CA bundle or the server)."""


def _host_of(err: requests.RequestException) -> str:
    request = getattr(err, "request", None)
    parts = urlsplit(getattr(request, "url", None) or "")
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname or "the upstream")


def _is_verification_failure(err: BaseException) -> bool:
    seen: set[int] = set()
    chain: list[BaseException | None] = [err]
    while chain:
        current = chain.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return True
        chain += [current.__cause__, current.__context__, getattr(current, "reason", None)]
        chain += [a for a in current.args if isinstance(a, BaseException)]
    text = str(err)
    return "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text


def failure_from_exception(err: requests.RequestException, timeout: float) -> AttemptFailure:
    """A transport error as a retryable failure; the message names only the error's class,
    never a URL, header or body that could carry a secret. A certificate that cannot be
    verified raises TlsVerificationError naming the host (the host is configuration, no secret)."""
    if isinstance(err, ResponseTooSlow):
        return AttemptFailure(ErrorKind.TIMEOUT, None, f"response not complete within {2 * timeout:g} s", True)
    if isinstance(err, ResponseTooLarge):
        return AttemptFailure(ErrorKind.INVALID_RESPONSE, None, f"invalid response: {err}", True)
    if isinstance(err, requests.Timeout):
        which = "connect" if isinstance(err, requests.ConnectTimeout) else "read"
        return AttemptFailure(ErrorKind.TIMEOUT, None, f"{which} timeout after {timeout:g} s", True)
    if isinstance(err, requests.exceptions.SSLError):
        if _is_verification_failure(err):
            raise TlsVerificationError(f"TLS certificate verification failed for {_host_of(err)}") from None
        return AttemptFailure(ErrorKind.CONNECTION, None, "TLS error during the handshake", True)
    return AttemptFailure(ErrorKind.CONNECTION, None, f"connection error ({type(err).__name__})", True)


def join_url(base: str, path: str) -> str:
    """`http://h/ams` + `/v1/accounts` -> `http://h/ams/v1/accounts` (a trailing slash is fine)."""
    return base.rstrip("/") + path
