"""The request log and the statistics benchmarks and rate-limiter tests read.

Entries are kept column-wise in `array`s (about 40 bytes each) rather than as dicts, so a
million-request benchmark stays within tens of megabytes. Admin requests are not logged.
"""

from __future__ import annotations

import json
from array import array
from collections import Counter, deque
from typing import IO, Any

from esg_assets.clock import utc_text
from esg_assets.sandbox import generate as gen

KINDS = ("token", "ams", "analysis", "changes", "unknown")
PENDING, DROPPED, RESET = -1, 0, 1  # pseudo-statuses: no answer yet / client left / sandbox reset
_OUTCOME = {PENDING: "pending", DROPPED: "dropped", RESET: "reset"}


class Ctx:
    """One request in flight."""

    __slots__ = ("t_mono", "t_wall", "method", "path", "query", "kind", "account_id", "attempt",
                 "slot", "esg", "generation")

    def __init__(self, t_mono: float, t_wall: float, method: str, path: str, query: str,
                 kind: str, account_id: str | None, attempt: int | None) -> None:
        self.t_mono, self.t_wall, self.method = t_mono, t_wall, method
        self.path, self.query, self.kind = path, query, kind
        self.account_id, self.attempt = account_id, attempt
        self.slot = -1
        self.generation = -1
        # Every request to the ESG API base counts (the contract's limit), even to an unknown path.
        self.esg = kind in ("analysis", "changes") or path.startswith("/esg/")


def _iso(t: float) -> str:
    return utc_text(t, "microseconds")


class RequestLog:
    def __init__(self, max_entries: int, file: IO[str] | None = None) -> None:
        self.max_entries = max_entries
        self.file = file
        self._lines: list[str] = []
        self.clear()

    def clear(self) -> None:
        """Forget entries and statistics; indices keep growing so old cursors stay meaningful."""
        self.base = getattr(self, "base", 0) + len(getattr(self, "_mono", ()))
        # Slots of requests still in flight point into the old columns: the generation tells.
        self.generation = getattr(self, "generation", -1) + 1
        self._mono, self._wall = array("d"), array("d")
        self._status, self._attempt, self._acct = array("h"), array("l"), array("l")
        self._kind, self._method = array("b"), array("b")
        self._methods: list[str] = []
        self._path: list[str | None] = []  # None: rebuilt from the account id (analysis)
        self._odd_ids: dict[int, str] = {}
        self.dropped = 0
        self.by_status: Counter[str] = Counter()
        self.by_kind: Counter[str] = Counter()
        self.total = 0
        self.esg_total = 0
        self._window: deque[float] = deque()
        self.esg_max_window = 0
        self.esg_inflight = getattr(self, "esg_inflight", 0)  # those in flight are still in flight
        self.esg_max_inflight = self.esg_inflight
        self.analysis_first_wall: float | None = None  # the first and last analysis request's arrival
        self.analysis_last_wall: float | None = None

    # --- recording ------------------------------------------------------------------------
    def esg_arrival(self, now: float) -> int:
        """Count an ESG API arrival; return how many arrived in the last second before it."""
        window = self._window
        while window and window[0] <= now - 1.0:
            window.popleft()
        before = len(window)
        window.append(now)
        self.esg_max_window = max(self.esg_max_window, before + 1)
        return before

    def start(self, ctx: Ctx) -> None:
        self.total += 1
        self.by_kind[ctx.kind] += 1
        if ctx.kind == "analysis":
            if self.analysis_first_wall is None:
                self.analysis_first_wall = ctx.t_wall
            self.analysis_last_wall = ctx.t_wall
        if ctx.esg:
            self.esg_total += 1
            self.esg_inflight += 1
            self.esg_max_inflight = max(self.esg_max_inflight, self.esg_inflight)
        if len(self._mono) >= self.max_entries:
            self.dropped += 1
            return
        ctx.slot = len(self._mono)
        ctx.generation = self.generation
        self._mono.append(ctx.t_mono)
        self._wall.append(ctx.t_wall)
        self._status.append(PENDING)
        self._attempt.append(ctx.attempt or 0)
        index = gen.parse_account_id(ctx.account_id) if ctx.account_id else None
        if ctx.account_id and index is None:
            self._odd_ids[ctx.slot] = ctx.account_id
        self._acct.append(index or (-1 if ctx.account_id else 0))
        self._kind.append(KINDS.index(ctx.kind))
        if ctx.method not in self._methods:
            self._methods.append(ctx.method)
        self._method.append(self._methods.index(ctx.method))
        self._path.append(None if ctx.kind == "analysis" else ctx.path + ("?" + ctx.query if ctx.query else ""))

    def finish(self, ctx: Ctx, status: int) -> None:
        """Record the answer (an HTTP status, DROPPED or RESET) once per request."""
        if ctx.esg:
            self.esg_inflight -= 1
            ctx.esg = False
        self.by_status[_OUTCOME.get(status, str(status))] += 1
        if ctx.slot >= 0 and ctx.generation == self.generation:
            self._status[ctx.slot] = status
        if self.file is not None:
            self._lines.append(json.dumps(self._entry_of(ctx, status)))

    def flush(self) -> None:
        if self.file is not None and self._lines:
            self.file.write("\n".join(self._lines) + "\n")
            self.file.flush()
            self._lines.clear()

    # --- reading --------------------------------------------------------------------------
    def _entry_of(self, ctx: Ctx, status: int) -> dict[str, Any]:
        return {
            "index": self.base + ctx.slot if ctx.generation == self.generation else None,
            "t_mono": ctx.t_mono, "t_wall": ctx.t_wall, "time": _iso(ctx.t_wall),
            "method": ctx.method, "path": ctx.path + ("?" + ctx.query if ctx.query else ""),
            "kind": ctx.kind, "account_id": ctx.account_id,
            "status": status if status > 1 else None, "outcome": _OUTCOME.get(status, "answered"),
            "attempt": ctx.attempt,
        }

    def entry(self, slot: int) -> dict[str, Any]:
        acct = self._acct[slot]
        account_id = self._odd_ids.get(slot) if acct < 0 else (gen.account_id(acct) if acct else None)
        kind = KINDS[self._kind[slot]]
        path = self._path[slot] or f"/esg/v1/accounts/{account_id}/esg-analysis"
        status = self._status[slot]
        return {
            "index": self.base + slot, "t_mono": self._mono[slot], "t_wall": self._wall[slot],
            "time": _iso(self._wall[slot]), "method": self._methods[self._method[slot]],
            "path": path, "kind": kind, "account_id": account_id,
            "status": status if status > 1 else None, "outcome": _OUTCOME.get(status, "answered"),
            "attempt": self._attempt[slot] or None,
        }

    def entries(self, since_index: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        first = max(since_index - self.base, 0)
        last = min(first + limit, len(self._mono))
        return [self.entry(s) for s in range(first, last)], self.base + max(last, first)

    def stats(self) -> dict[str, Any]:
        return {
            "total_requests": self.total,
            "by_status": dict(self.by_status),
            "by_kind": dict(self.by_kind),
            "esg_requests": self.esg_total,
            "esg_max_per_second": self.esg_max_window,
            "esg_max_in_flight": self.esg_max_inflight,
            "esg_in_flight": self.esg_inflight,
            "analysis_first_wall": self.analysis_first_wall,
            "analysis_last_wall": self.analysis_last_wall,
            "log_entries": len(self._mono),
            "log_dropped": self.dropped,
            "next_index": self.base + len(self._mono),
        }
