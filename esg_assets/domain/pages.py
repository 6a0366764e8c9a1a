"""Reading the pages of the AMS listing, the changes feed and the token endpoint: a value, or
the reason the answer is unusable. Plain Python, so the parsers can be fuzzed alone.

Two kinds of bad answer (upstream-apis.yaml): a page that is not the documented shape at all
(not JSON, too deeply nested, no `data`) raises `InvalidPage`, which the client retries like
any invalid 200; an AMS record that breaks the Account schema raises `InvalidRecord`, which
makes the listing unusable at once (contract 1.1). Messages name the page, the record's position
and the field, never a record's values (an account name is client data).
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from esg_assets.domain.analysis import InvalidAnalysis, load_json_exact
from esg_assets.domain.models import ACCOUNT_ID, Account

# RFC 3339 date-time with an offset (Z or +hh:mm); fromisoformat then checks the calendar.
_RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})")
# A token lifetime beyond this (over a year) is not a lifetime but a malformed answer.
_MAX_EXPIRES_IN = 400 * 86400


class InvalidPage(ValueError):
    """A 200 whose body is not the documented page or token shape (retried)."""


class InvalidRecord(ValueError):
    """An AMS record that does not match the Account schema: the listing is unusable."""


def _document(body: bytes, what: str) -> dict[str, Any]:
    try:
        doc = load_json_exact(body)
    except (ValueError, UnicodeDecodeError, InvalidAnalysis):
        raise InvalidPage(f"{what} is not JSON") from None
    if not isinstance(doc, dict):
        raise InvalidPage(f"{what} is not a JSON object")
    return doc


def _page_parts(body: bytes, what: str) -> tuple[list[Any], str | None]:
    doc = _document(body, what)
    items, cursor = doc.get("data"), doc.get("next_cursor", ...)
    if not isinstance(items, list):
        raise InvalidPage(f"{what} has no data array")
    if cursor is ... or not (cursor is None or isinstance(cursor, str)):
        raise InvalidPage(f"{what} has no valid next_cursor")
    return items, cursor


def is_rfc3339(value: object) -> bool:
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value.replace("z", "Z").replace("t", "T").replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_text(value: object) -> bool:
    """A string that is valid Unicode (JSON's \\ud800 escapes give an unpaired surrogate)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _account(item: object, page: int, position: int) -> Account:
    where = f"AMS page {page}, record {position}"
    if not isinstance(item, dict):
        raise InvalidRecord(f"{where} is not an object")
    for name in ("account_id", "account_name", "status", "updated_at"):
        if name not in item:
            raise InvalidRecord(f"{where}: field {name} is missing")
    if not isinstance(item["account_id"], str) or not ACCOUNT_ID.fullmatch(item["account_id"]):
        raise InvalidRecord(f"{where}: field account_id does not match ^[A-Za-z0-9_-]{{1,64}}$")
    if not _is_text(item["account_name"]):
        raise InvalidRecord(f"{where}: field account_name is not a valid UTF-8 string")
    if item["status"] != "active":
        raise InvalidRecord(f"{where}: field status is not active")
    if not is_rfc3339(item["updated_at"]):
        raise InvalidRecord(f"{where}: field updated_at is not an RFC 3339 date-time with an offset")
    return Account(account_id=item["account_id"], account_name=item["account_name"], updated_at=item["updated_at"])


def parse_ams_page(body: bytes, page: int) -> tuple[list[Account], str | None]:
    """The accounts of AMS page number `page` (1-based) and its next cursor."""
    items, cursor = _page_parts(body, f"AMS page {page}")
    return [_account(item, page, position) for position, item in enumerate(items, start=1)], cursor


def parse_feed_page(body: bytes) -> tuple[list[str], str | None]:
    """The account IDs of one changes-feed page and its next cursor."""
    items, cursor = _page_parts(body, "changes feed page")
    ids = []
    for item in items:
        account_id = item.get("account_id") if isinstance(item, dict) else None
        if not isinstance(account_id, str):
            raise InvalidPage("changes feed page has a record without a string account_id")
        ids.append(account_id)
    return ids, cursor


def parse_token(body: bytes) -> tuple[str, float]:
    """The access token and its lifetime in seconds from a token endpoint's 200."""
    doc = _document(body, "token response")
    token, expires_in = doc.get("access_token"), doc.get("expires_in")
    if not isinstance(token, str) or not token or not _is_text(token):
        raise InvalidPage("token response has no access_token")
    if not isinstance(expires_in, Decimal) or not expires_in.is_finite() or not 1 <= expires_in <= _MAX_EXPIRES_IN:
        raise InvalidPage("token response has no valid expires_in")
    return token, float(expires_in)
