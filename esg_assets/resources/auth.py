"""The firm's OAuth 2.0 client-credentials token, shared by every worker of the process,
and the bearer-authenticated GET that re-sends after a 401 (at most three times).

"Of the process" (upstream-apis.yaml): the four assets of a run are steps of one process
(in-process executor), and each step opens its own `UpstreamClients`; the token outlives them in
`shared_token_provider`, so `esg_ratings` reuses the token `active_accounts` fetched.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TypeVar

import requests

from esg_assets.domain.models import AttemptFailure, ErrorKind
from esg_assets.domain.pages import InvalidPage, parse_token
from esg_assets.resources.counters import ApiCounters
from esg_assets.resources.http import failure_from_exception, make_session, send_get, send_post_form
from esg_assets.resources.places import Places
from esg_assets.resources.rate_limiter import RateLimiter
from esg_assets.resources.retry import RetryStopped, classify_status, parse_retry_after, retrying_from
from esg_assets.settings import UpstreamSettings

T = TypeVar("T")

_EARLY_REFRESH_SECONDS = 60
_SHORT_LIFETIME_SECONDS = 120
_POLL_SECONDS = 0.1  # how often a token wait looks at the run's stop events


class AuthenticationError(RuntimeError):
    """No token could be had, or a fresh token was refused: a critical error of the run."""


def usable_seconds(expires_in: float) -> float:
    """How long a token is reused: until 60 s before expiry, or half its life when short."""
    if expires_in <= _SHORT_LIFETIME_SECONDS:
        return expires_in / 2
    return expires_in - _EARLY_REFRESH_SECONDS


class TokenProvider:
    """Fetches, caches and refreshes the one bearer token of the process.

    A token request after the provider's first is a refresh; it is counted in the counters of
    whoever is using the provider at the time (`counting`: normally the running step's)."""

    def __init__(
        self,
        session: requests.Session,
        settings: UpstreamSettings,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._session = session
        self._settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        # Backoff waits of a token fetch release the lock (`_wait_unlocked`); `_fetching` keeps
        # the other workers waiting for that fetch's token instead of starting their own.
        self._cond = threading.Condition(self._lock)
        self._fetching = False
        self._stops: list[threading.Event] = []
        self._token: str | None = None
        self._valid_until = 0.0
        self._fetches = 0
        self._listeners: list[ApiCounters] = []

    @contextmanager
    def _registered(self, items: list[T], item: T) -> Iterator[None]:
        """`item` is in `items` (under the lock) while the block runs, and out again after it,
        however it ends: the provider outlives the steps that lend it their counters and stops."""
        with self._lock:
            items.append(item)
        try:
            yield
        finally:
            with self._lock:
                items.remove(item)

    def counting(self, counters: ApiCounters) -> AbstractContextManager[None]:
        """Count token refreshes into `counters` while the block runs."""
        return self._registered(self._listeners, counters)

    def stopping(self, stop: threading.Event) -> AbstractContextManager[None]:
        """While the block runs, `stop` (the step's UpstreamClients.stop) ends every token wait."""
        return self._registered(self._stops, stop)

    def _check_stopped(self) -> None:
        if any(stop.is_set() for stop in self._stops):
            raise RetryStopped

    def _await_fetch_locked(self) -> None:
        """Another worker is fetching (maybe waiting out a backoff): wait for its token."""
        while self._fetching:
            self._check_stopped()
            self._cond.wait(_POLL_SECONDS)

    def _wait_unlocked(self, seconds: float) -> None:
        """A backoff wait between token attempts, bounded (see `retrying`), with the lock
        released, and ended (RetryStopped) as soon as the run stops."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            self._check_stopped()
            self._cond.wait(min(remaining, _POLL_SECONDS))
        self._check_stopped()

    def token(self) -> str:
        with self._lock:
            self._await_fetch_locked()
            if self._token is None or self._clock() >= self._valid_until:
                self._fetch_locked()
            assert self._token is not None
            return self._token

    def refresh_after_401(self, rejected: str) -> str:
        """A resource server refused `rejected`: fetch a new token unless another worker
        already did (one revocation costs one token request per process)."""
        with self._lock:
            self._await_fetch_locked()
            if self._token == rejected or self._token is None:
                self._fetch_locked()
            assert self._token is not None
            return self._token

    def _fetch_locked(self) -> None:
        self._check_stopped()
        self._fetching = True
        try:
            outcome = retrying_from(self._settings, self._wait_unlocked)(self._attempt)
        finally:
            self._fetching = False
            self._cond.notify_all()
        if isinstance(outcome, AttemptFailure):
            raise AuthenticationError(f"no token from the token endpoint: {outcome.message}")
        token, expires_in = outcome
        if self._fetches > 0:
            for counters in self._listeners:
                counters.add("token_refreshes")
        self._fetches += 1
        self._token = token
        self._valid_until = self._clock() + usable_seconds(expires_in)

    def _attempt(self) -> tuple[str, float] | AttemptFailure:
        s = self._settings
        try:
            response = send_post_form(self._session, s.token_url, {"grant_type": "client_credentials"},
                                      (s.client_id.value, s.client_secret.value), s.timeout_seconds, s.verify)
        except requests.RequestException as err:
            return failure_from_exception(err, s.timeout_seconds)
        if response.status_code in (400, 401):
            raise AuthenticationError(
                f"the token endpoint refused the client credentials (HTTP {response.status_code})"
            )
        if response.status_code != 200:
            failure = classify_status(response.status_code, parse_retry_after(response.headers.get("Retry-After")))
            if not failure.retryable:
                raise AuthenticationError(f"the token endpoint answered HTTP {response.status_code}")
            return failure
        try:
            return parse_token(response.content)
        except InvalidPage:
            return AttemptFailure(ErrorKind.INVALID_RESPONSE, 200, "token response is not valid", True)


_PROCESS_TOKENS: dict[tuple, TokenProvider] = {}
_PROCESS_TOKENS_LOCK = threading.Lock()


def shared_token_provider(settings: UpstreamSettings) -> TokenProvider:
    """The process's token provider for these credentials and token endpoint (created on first
    use, with its own small session, and kept for the life of the process)."""
    key = (settings.token_url, settings.client_id, settings.client_secret, settings.ca_bundle,
           settings.timeout_seconds, settings.max_attempts, settings.backoff_base_seconds,
           settings.backoff_max_seconds, settings.retry_after_max_seconds)
    with _PROCESS_TOKENS_LOCK:
        provider = _PROCESS_TOKENS.get(key)
        if provider is None:
            provider = _PROCESS_TOKENS[key] = TokenProvider(make_session(pool_size=2), settings)
        return provider


# A request may be re-sent this many times for 401s, each time with a newer token; the next 401
# in a row is critical (upstream-apis.yaml, token endpoint, contract 1.1).
MAX_401_RESENDS = 3


class BearerGetter:
    """GET with the shared token, within the in-flight ceiling and (for the ESG API) the
    rate limit; a 401 gets up to three re-sends with newer tokens, not counted as attempts.

    A request takes its in-flight place first, then its turn at the rate limiter (`turn()`):
    the limiter hands each due slot to a request that holds a place, so the instant a request is
    let go is the instant it has both, and it is counted there once its bytes are written (the
    ceiling at the server, docs/benchmarks.md). A slot reserved before the place came late to
    it (the place's wait), and the requests let go together when answers freed places bunched.
    The token is taken inside the turn, at the moment of sending (contract: after the waits for
    the rate limit and the in-flight ceiling). The place is kept across the re-sends of one
    request, each of which takes a new turn."""

    def __init__(
        self,
        session: requests.Session,
        tokens: TokenProvider,
        settings: UpstreamSettings,
        in_flight: Places,
        limiter: RateLimiter | None = None,
        counters: ApiCounters | None = None,
    ):
        self._session = session
        self._tokens = tokens
        self._settings = settings
        self._in_flight = in_flight
        self._limiter = limiter
        self._counters = counters

    def get(
        self, url: str, params: dict[str, str] | None = None, on_send: Callable[[], None] | None = None
    ) -> requests.Response | AttemptFailure:
        """`on_send` is called for every request actually sent (the 401 re-sends included)."""
        with self._in_flight:
            refused = 0
            while True:
                token, response = self._send(url, params, on_send)
                if not (isinstance(response, requests.Response) and response.status_code == 401):
                    break
                refused += 1
                if refused > MAX_401_RESENDS:
                    raise AuthenticationError(
                        f"a request was answered 401 {refused} times in a row, each time with a newer token"
                    )
                # Make sure a newer token than the refused one exists (fetched by this worker,
                # or already by another: one revocation, one token request per process).
                self._tokens.refresh_after_401(token)
        if isinstance(response, requests.Response) and response.status_code == 429 and self._counters is not None:
            self._counters.add("rate_limited")
        return response

    def _send(
        self, url: str, params: dict[str, str] | None, on_send: Callable[[], None] | None
    ) -> tuple[str, requests.Response | AttemptFailure]:
        """One request, in the caller's in-flight place: its turn, then the token, then the bytes."""
        timeout = self._settings.timeout_seconds
        turn = _SendTurn(self._tokens, self._limiter, self._counters, on_send)
        try:
            response = send_get(self._session, url, params, {"Accept": "application/json"}, timeout,
                                self._settings.verify, turn)
        except requests.RequestException as err:
            return turn.token, failure_from_exception(err, timeout)
        return turn.token, response


class _SendTurn:
    """`http.Turn` of one request: the limiter's turn (when there is a limiter), and inside it
    the token and the request's counting; a plain object, not a generator-based context manager,
    which cost 10 % of the fetch's CPU per account (docs/benchmarks.md)."""

    __slots__ = ("_tokens", "_limiter", "_counters", "_on_send", "_earliest", "token")

    def __init__(self, tokens: TokenProvider, limiter: RateLimiter | None, counters: ApiCounters | None,
                 on_send: Callable[[], None] | None) -> None:
        self._tokens = tokens
        self._limiter = limiter
        self._counters = counters
        self._on_send = on_send
        self._earliest: float | None = None
        self.token = ""

    def open(self) -> dict[str, str]:
        if self._limiter is not None:
            self._earliest = self._limiter.begin()
        try:
            self.token = self._tokens.token()
            if self._on_send is not None:
                self._on_send()
            if self._counters is not None:
                self._counters.add("requests")
        except BaseException:
            self.close()
            raise
        return {"Authorization": f"Bearer {self.token}"}

    def close(self) -> None:
        if self._earliest is not None:
            assert self._limiter is not None
            self._limiter.end(self._earliest)
            self._earliest = None
