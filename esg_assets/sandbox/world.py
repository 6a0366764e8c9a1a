"""The sandbox's deterministic world: accounts, their analyses, simulated days and the changes feed.

Pure Python, no I/O: the clock is passed in by the caller. Every account's name, initial
`updated_at`, initial analysis and analysis date are derived from the seed; only what changed at
runtime (bumped `updated_at`, new analysis versions, removed accounts, feed entries) is stored,
so a world of 1,000,000 accounts costs a few megabytes.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from esg_assets.clock import utc_text
from esg_assets.sandbox import generate as gen

MAX_PAGE = 1000


def rfc3339(moment: datetime, fraction: bool = False) -> str:
    """UTC RFC 3339 with `Z`; microseconds when `fraction` (feed instants need sub-second order)."""
    return utc_text(moment, "microseconds" if fraction else "seconds")


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 instant with an explicit offset (or `Z`); ValueError otherwise."""
    if len(text) < 20 or text[10] not in "Tt ":
        raise ValueError(f"not an RFC 3339 date-time: {text!r}")
    moment = datetime.fromisoformat(text.replace("z", "Z"))
    if moment.tzinfo is None:
        raise ValueError(f"date-time without offset: {text!r}")
    return moment.astimezone(UTC)


def encode_cursor(prefix: str, value: int) -> str:
    return base64.urlsafe_b64encode(f"{prefix}:{value}".encode()).decode().rstrip("=")


def decode_cursor(prefix: str, cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = raw.partition(":")
        if kind != prefix:
            raise ValueError
        return int(value)
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"invalid cursor: {cursor!r}") from err


class World:
    """Accounts `ACC-0000001`..`ACC-<total>`, of which the non-removed ones are active."""

    def __init__(self, seed: int, accounts: int, today: date, analysis_age_days: tuple[int, int] = (0, 2)) -> None:
        self.seed = seed
        self.analysis_age_days = analysis_age_days
        self.start_today = today
        self.today = today
        self.total = accounts
        self.day_number = 0  # advances so far: salts the random_changes choice
        self.removed: set[int] = set()
        self._updated: dict[int, datetime] = {}
        self._analysis: dict[int, tuple[int, date]] = {}  # index -> (version, analysis_date)
        self.changes: dict[int, datetime] = {}  # index -> latest changed_at in the feed
        self._days = [(today - timedelta(days=1 + n)).isoformat() for n in range(400)]

    # --- accounts -------------------------------------------------------------------------
    def exists(self, index: int | None) -> bool:
        return index is not None and 1 <= index <= self.total

    def active_indices(self) -> Iterator[int]:
        removed = self.removed
        return (i for i in range(1, self.total + 1) if i not in removed)

    def updated_at(self, index: int) -> datetime:
        if index in self._updated:
            return self._updated[index]
        h = gen.h64(self.seed, "updated", index)
        day = self.start_today - timedelta(days=1 + h % 400)
        return datetime.combine(day, time(), UTC) + timedelta(seconds=(h >> 16) % 86400)

    def _updated_text(self, index: int) -> str:
        if index in self._updated:
            return rfc3339(self._updated[index])
        # Same instant as updated_at(), formatted without datetime objects (hot path of AMS pages).
        h = gen.h64(self.seed, "updated", index)
        secs = (h >> 16) % 86400
        return f"{self._days[h % 400]}T{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}Z"

    def account(self, index: int) -> dict[str, str]:
        return {
            "account_id": gen.account_id(index),
            "account_name": gen.account_name(self.seed, index),
            "status": "active",
            "updated_at": self._updated_text(index),
        }

    def list_accounts(
        self, limit: int = MAX_PAGE, cursor: str | None = None, duplicate_rate: float = 0.0
    ) -> tuple[list[dict[str, str]], str | None]:
        """One AMS page. With `duplicate_rate`, a page may start by repeating the previous page's
        last accounts, as when records shift while a client pages (the page stays <= limit)."""
        start = decode_cursor("a", cursor) if cursor else 1
        new: list[int] = []
        dupes: list[int] = []
        if duplicate_rate > 0 and start > 1:
            hits = sum(
                1 for i in range(start, start + limit) if gen.unit(self.seed, "dup", i) < duplicate_rate
            )
            i = start - 1
            while i >= 1 and len(dupes) < min(hits, limit - 1):
                if i not in self.removed:
                    dupes.append(i)
                i -= 1
            dupes.reverse()
        i = start
        while i <= self.total and len(new) < limit - len(dupes):
            if i not in self.removed:
                new.append(i)
            i += 1
        while i <= self.total and i in self.removed:
            i += 1
        next_cursor = encode_cursor("a", i) if i <= self.total else None
        return [self.account(j) for j in dupes + new], next_cursor

    # --- analyses -------------------------------------------------------------------------
    def analysis_version(self, index: int) -> tuple[int, date]:
        if index in self._analysis:
            return self._analysis[index]
        low, high = self.analysis_age_days
        return 0, self.start_today - timedelta(days=low + gen.h64(self.seed, "adate", index) % (high - low + 1))

    def analysis(self, index: int) -> tuple[gen.Analysis, date]:
        version, day = self.analysis_version(index)
        return gen.analysis(self.seed, index, version), day

    # --- changes feed ---------------------------------------------------------------------
    def changes_since(
        self, since: datetime, limit: int = MAX_PAGE, cursor: str | None = None
    ) -> tuple[list[dict[str, str]], str | None]:
        """Accounts whose latest change is at or after `since` (inclusive), oldest first."""
        offset = decode_cursor("c", cursor) if cursor else 0
        rows = sorted((at, i) for i, at in self.changes.items() if at >= since)
        page = rows[offset : offset + limit]
        data = [{"account_id": gen.account_id(i), "changed_at": rfc3339(at, True)} for at, i in page]
        more = offset + limit < len(rows)
        return data, encode_cursor("c", offset + limit) if more else None

    # --- days -----------------------------------------------------------------------------
    def _index(self, account: object) -> int:
        index = gen.parse_account_id(account) if isinstance(account, str) else None
        if index is None or not self.exists(index):
            raise ValueError(f"unknown account: {account!r}")
        return index

    def _indices(self, spec: Mapping[str, Any], key: str) -> list[int]:
        value = spec.get(key) or []
        if not isinstance(value, list):
            raise ValueError(f"{key} must be a list of account ids")
        return [self._index(a) for a in value]

    def _bump(self, index: int, now: datetime) -> None:
        # Strictly increasing, so two bumps within one second still read as a change.
        old = self.updated_at(index)
        new = now.astimezone(UTC).replace(microsecond=0)
        self._updated[index] = new if new > old else old + timedelta(seconds=1)

    def _new_analysis(self, index: int) -> None:
        version, _ = self.analysis_version(index)
        self._analysis[index] = (version + 1, self.today)

    def advance(self, spec: Mapping[str, Any], now: datetime) -> dict[str, Any]:
        """Apply one `POST /_sandbox/advance`; the whole spec is validated before any change."""
        known = {"days", "ams_updated", "esg_changed", "esg_changed_silently", "added", "removed",
                 "random_changes"}
        if unknown := set(spec) - known:
            raise ValueError(f"unknown advance keys: {sorted(unknown)}")
        days, added = spec.get("days", 1), spec.get("added", 0)
        if not isinstance(days, int) or days < 0 or not isinstance(added, int) or added < 0:
            raise ValueError("days and added must be non-negative integers")
        ams = self._indices(spec, "ams_updated")
        esg = self._indices(spec, "esg_changed")
        silent = self._indices(spec, "esg_changed_silently")
        removed = self._indices(spec, "removed")
        rnd = spec.get("random_changes") or {}
        if not isinstance(rnd, dict) or set(rnd) - {"ams_fraction", "esg_fraction", "esg_silent_fraction"}:
            raise ValueError("random_changes takes ams_fraction, esg_fraction, esg_silent_fraction")
        fractions = {k: float(v) for k, v in rnd.items()}

        self.today += timedelta(days=days)
        self.day_number += 1
        for key, target in (("ams_fraction", ams), ("esg_fraction", esg), ("esg_silent_fraction", silent)):
            if fractions.get(key, 0.0) > 0:
                f = fractions[key]
                target.extend(i for i in self.active_indices()
                              if gen.unit(self.seed, key, self.day_number, i) < f)
        for i in ams:
            self._bump(i, now)
        for i in esg:
            self._new_analysis(i)
            self.changes[i] = now.astimezone(UTC)
        for i in silent:
            self._new_analysis(i)
        first_new = self.total + 1
        for i in range(first_new, first_new + added):
            self._bump(i, now)
            back = gen.h64(self.seed, "adate", i) % 3
            self._analysis[i] = (0, self.today - timedelta(days=back))
        self.total += added
        self.removed.update(removed)
        ids = lambda xs: sorted(gen.account_id(i) for i in set(xs))  # noqa: E731
        return {
            "today": self.today.isoformat(),
            "changed_at": rfc3339(now, True),
            "ams_updated": ids(ams),
            "esg_changed": ids(esg),
            "esg_changed_silently": ids(silent),
            "added": [gen.account_id(i) for i in range(first_new, first_new + added)],
            "removed": ids(removed),
            "active_accounts": self.total - len(self.removed),
        }
