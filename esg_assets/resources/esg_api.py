"""The Multi-Objective ESG Portfolio Analysis API: one analysis per account, and the changes feed."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from urllib.parse import quote

import requests

from esg_assets.clock import utc_text
from esg_assets.domain.analysis import InvalidAnalysis, parse_analysis
from esg_assets.domain.models import AccountResult, AttemptFailure, ErrorKind, EsgAnalysis
from esg_assets.domain.outcome import result_from
from esg_assets.domain.pages import InvalidPage, parse_feed_page
from esg_assets.resources.auth import BearerGetter
from esg_assets.resources.counters import ApiCounters
from esg_assets.resources.http import join_url
from esg_assets.resources.retry import Attempts, classify_status, parse_retry_after, retrying_from
from esg_assets.settings import UpstreamSettings

log = logging.getLogger(__name__)

PAGE_LIMIT = 1000


class FeedUnavailable(RuntimeError):
    """The changes feed is not offered or could not be read completely."""


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _failure_of(response: requests.Response) -> AttemptFailure:
    return classify_status(response.status_code, parse_retry_after(response.headers.get("Retry-After")))


class EsgApiClient:
    def __init__(
        self,
        getter: BearerGetter,
        settings: UpstreamSettings,
        counters: ApiCounters,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._getter = getter
        self._settings = settings
        self._counters = counters
        self._sleep = sleep

    def _retrying(self) -> Attempts:
        return retrying_from(self._settings, self._sleep)

    def fetch_analysis(self, account_id: str) -> AccountResult:
        """The account's latest analysis after at most ESG_API_MAX_ATTEMPTS attempts."""
        url = join_url(self._settings.api_base_url, f"/v1/accounts/{quote(account_id, safe='')}/esg-analysis")
        # Attempts (at most ESG_API_MAX_ATTEMPTS, `Attempts` counts them) differ from requests
        # made: a 401 re-send is a request but not an attempt. The error file's Attempts and
        # the summary's retries count requests (docs/spec.md#error-csv, #summary-json).
        sent = 0
        last_at = _utc_now()

        def count_request() -> None:
            nonlocal sent
            sent += 1

        def attempt() -> EsgAnalysis | AttemptFailure:
            nonlocal last_at
            last_at = _utc_now()
            response = self._getter.get(url, on_send=count_request)
            if isinstance(response, AttemptFailure):
                return response
            if response.status_code != 200:
                return _failure_of(response)
            try:
                return parse_analysis(response.content, account_id)
            except InvalidAnalysis as err:
                return AttemptFailure(ErrorKind.INVALID_RESPONSE, 200, f"invalid response: {err}", True)

        outcome = self._retrying()(attempt)
        if sent > 1:
            self._counters.add("retries", sent - 1)
        return result_from(account_id, outcome, sent, last_at)

    def changed_accounts(self, since: datetime) -> Iterator[list[str]]:
        """Pages of account IDs whose analysis changed at or after `since`.

        Raises FeedUnavailable when the provider does not offer the feed (404/501) or a page
        cannot be fetched after retries: the caller must then call every account.
        """
        url = join_url(self._settings.api_base_url, "/v1/esg-analysis/changes")
        since_text = utc_text(since, "microseconds")
        cursor: str | None = None
        seen_cursors: set[str] = set()
        while True:
            params = {"since": since_text, "limit": str(PAGE_LIMIT)}
            if cursor is not None:
                params["cursor"] = cursor
            outcome = self._retrying()(lambda: self._feed_page(url, params))
            if isinstance(outcome, AttemptFailure):
                if outcome.http_status in (404, 501):
                    raise FeedUnavailable(f"the provider does not offer the changes feed (HTTP {outcome.http_status})")
                raise FeedUnavailable(f"the changes feed could not be read completely: {outcome.message}")
            ids, cursor = outcome
            if cursor is not None and cursor in seen_cursors:
                raise FeedUnavailable("the changes feed could not be read completely: it repeats an earlier cursor (a loop)")
            yield ids
            if cursor is None:
                return
            seen_cursors.add(cursor)

    def _feed_page(self, url: str, params: dict[str, str]) -> tuple[list[str], str | None] | AttemptFailure:
        response = self._getter.get(url, params)
        if isinstance(response, AttemptFailure):
            return response
        if response.status_code != 200:
            return _failure_of(response)
        try:
            return parse_feed_page(response.content)
        except InvalidPage:
            return AttemptFailure(ErrorKind.INVALID_RESPONSE, 200, "changes feed page is not valid", True)
