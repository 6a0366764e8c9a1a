"""The firm's Account Management System: the complete list of active accounts, page by page."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from esg_assets.domain.models import Account, AttemptFailure, ErrorKind
from esg_assets.domain.pages import InvalidPage, InvalidRecord, parse_ams_page
from esg_assets.resources.auth import BearerGetter
from esg_assets.resources.http import join_url
from esg_assets.resources.retry import classify_status, parse_retry_after, retrying_from
from esg_assets.settings import UpstreamSettings

PAGE_LIMIT = 1000


class AmsListIncomplete(RuntimeError):
    """The active-account list is incomplete or unusable (a page lost, a record that breaks
    the Account schema, a cursor loop, no account at all): no output may be produced."""


class AmsClient:
    def __init__(self, getter: BearerGetter, settings: UpstreamSettings, sleep: Callable[[float], None] = time.sleep):
        self._getter = getter
        self._settings = settings
        self._sleep = sleep

    def active_account_pages(self) -> Iterator[list[Account]]:
        """Every page of active accounts, in order; raises AmsListIncomplete when the list is
        incomplete or unusable (see the class)."""
        s = self._settings
        url = join_url(s.ams_base_url, "/v1/accounts")
        cursor: str | None = None
        seen_cursors: set[str] = set()
        page = 0
        listed = 0
        while True:
            page += 1
            params = {"status": "active", "limit": str(PAGE_LIMIT)}
            if cursor is not None:
                params["cursor"] = cursor
            try:
                outcome = retrying_from(s, self._sleep)(lambda: self._page(url, params, page))
            except InvalidRecord as err:
                raise AmsListIncomplete(f"the AMS account list is unusable: {err}") from None
            if isinstance(outcome, AttemptFailure):
                raise AmsListIncomplete(
                    f"the AMS account list is incomplete: page {page} could not be fetched ({outcome.message})"
                )
            accounts, cursor = outcome
            listed += len(accounts)
            if cursor is None and listed == 0:
                raise AmsListIncomplete("the AMS listed no active account at all: treated as an outage")
            if cursor is not None and cursor in seen_cursors:
                raise AmsListIncomplete(f"the AMS account list is unusable: page {page} repeats an earlier cursor (a loop)")
            yield accounts
            if cursor is None:
                return
            seen_cursors.add(cursor)

    def _page(self, url: str, params: dict[str, str], page: int) -> tuple[list[Account], str | None] | AttemptFailure:
        response = self._getter.get(url, params)
        if isinstance(response, AttemptFailure):
            return response
        if response.status_code != 200:
            failure = classify_status(response.status_code, parse_retry_after(response.headers.get("Retry-After")))
            return failure
        try:
            return parse_ams_page(response.content, page)
        except InvalidPage:
            return AttemptFailure(ErrorKind.INVALID_RESPONSE, 200, "AMS page is not valid", True)
