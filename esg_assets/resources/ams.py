"""The firm's Account Management System: the complete list of active accounts, page by page."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

from esg_assets.domain.analysis import InvalidAnalysis, load_json_exact
from esg_assets.domain.models import Account, AttemptFailure, ErrorKind
from esg_assets.resources.auth import BearerGetter
from esg_assets.resources.http import join_url
from esg_assets.resources.retry import classify_status, parse_retry_after, retrying
from esg_assets.settings import UpstreamSettings

PAGE_LIMIT = 1000
_ACCOUNT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class AmsListIncomplete(RuntimeError):
    """A page of the active-account list could not be fetched: no output may be produced."""


def _account(item: object) -> Account:
    if not isinstance(item, dict):
        raise TypeError("account is not an object")
    account_id, name, updated_at = item["account_id"], item["account_name"], item["updated_at"]
    if not isinstance(account_id, str) or not _ACCOUNT_ID.fullmatch(account_id):
        raise TypeError("account_id is malformed")
    if not isinstance(name, str) or not isinstance(updated_at, str):
        raise TypeError("account_name or updated_at is not a string")
    return Account(account_id=account_id, account_name=name, updated_at=updated_at)


class AmsClient:
    def __init__(self, getter: BearerGetter, settings: UpstreamSettings, sleep: Callable[[float], None] = time.sleep):
        self._getter = getter
        self._settings = settings
        self._sleep = sleep

    def active_account_pages(self) -> Iterator[list[Account]]:
        """Every page of active accounts, in order; raises AmsListIncomplete on a lost page."""
        s = self._settings
        url = join_url(s.ams_base_url, "/v1/accounts")
        cursor: str | None = None
        page = 0
        while True:
            page += 1
            params = {"status": "active", "limit": str(PAGE_LIMIT)}
            if cursor is not None:
                params["cursor"] = cursor
            outcome = retrying(s.max_attempts, s.backoff_base_seconds, s.backoff_max_seconds, self._sleep,
                               s.retry_after_max_seconds)(
                lambda: self._page(url, params)
            )
            if isinstance(outcome, AttemptFailure):
                raise AmsListIncomplete(
                    f"the AMS account list is incomplete: page {page} could not be fetched ({outcome.message})"
                )
            accounts, cursor = outcome
            yield accounts
            if cursor is None:
                return

    def _page(self, url: str, params: dict[str, str]) -> tuple[list[Account], str | None] | AttemptFailure:
        response = self._getter.get(url, params)
        if isinstance(response, AttemptFailure):
            return response
        if response.status_code != 200:
            failure = classify_status(response.status_code, parse_retry_after(response.headers.get("Retry-After")))
            return failure
        try:
            doc = load_json_exact(response.content)
            items, cursor = doc["data"], doc["next_cursor"]
            if not isinstance(items, list) or not (cursor is None or isinstance(cursor, str)):
                raise TypeError("page shape")
            accounts = [_account(item) for item in items if not isinstance(item, dict) or item.get("status", "active") == "active"]
        except (ValueError, KeyError, TypeError, InvalidAnalysis):
            return AttemptFailure(ErrorKind.INVALID_RESPONSE, 200, "AMS page is not valid", True)
        return accounts, cursor
