"""A stub for the one seam the AMS and ESG API clients have: their `getter` (in production a
`BearerGetter`: token, in-flight ceiling, rate limit, HTTP). A tiny function gives canned
(status, headers, body) answers, or an AttemptFailure for a transport error; the clients' own
paging, retries, status classification and schema checks run unchanged, in milliseconds, and
their backoff sleeps are recorded instead of slept."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import requests
from requests.structures import CaseInsensitiveDict

from esg_assets.domain.models import AttemptFailure
from esg_assets.settings import Secret, UpstreamSettings

Answer = tuple[int, dict[str, str], bytes] | AttemptFailure
SETTINGS = UpstreamSettings(
    token_url="https://idp.example/token", client_id=Secret("id"), client_secret=Secret("secret"),
    ams_base_url="https://ams.example/base/", api_base_url="https://esg.example/api", ca_bundle=None,
    rate_limit_per_second=100.0, max_concurrency=4, timeout_seconds=1.0, max_attempts=3,
    backoff_base_seconds=0.5, backoff_max_seconds=4.0, max_rating_age_days=7,
)


def response(status: int, headers: dict[str, str], body: bytes) -> requests.Response:
    """A real `requests.Response` as `send_get` hands it back: body read, headers case-insensitive."""
    r = requests.Response()
    r.status_code = status
    r.headers = CaseInsensitiveDict(headers)
    r._content = body  # noqa: SLF001 - what requests sets once the body is read
    return r


def page(ids: list[str], cursor: str | None, **record: str) -> bytes:
    """An AMS page (or, with no record fields, a changes-feed page) of these IDs."""
    if not record:
        return json.dumps({"data": [{"account_id": a, "changed_at": "2026-11-27T01:00:00Z"} for a in ids],
                           "next_cursor": cursor}).encode()
    return json.dumps({"data": [{"account_id": a, **record} for a in ids], "next_cursor": cursor}).encode()


@dataclass
class StubGetter:
    """`answer(url, params)` gives each request's answer; `resends` extra sends per request
    (what BearerGetter does after a 401) are reported through `on_send`."""

    answer: Callable[[str, dict[str, str] | None], Answer]
    resends: int = 0
    calls: list[tuple[str, dict[str, str] | None]] = field(default_factory=list)

    def get(self, url: str, params: dict[str, str] | None = None,
            on_send: Callable[[], None] | None = None) -> requests.Response | AttemptFailure:
        self.calls.append((url, None if params is None else dict(params)))
        for _ in range(1 + self.resends):
            if on_send is not None:
                on_send()
        got = self.answer(url, params)
        return got if isinstance(got, AttemptFailure) else response(*got)


def scripted(*answers: Answer) -> Callable[[str, dict[str, str] | None], Answer]:
    """Answers in order, the last one repeated."""
    queue = list(answers)

    def answer(_url: str, _params: dict[str, str] | None) -> Answer:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return answer
