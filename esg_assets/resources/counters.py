"""Thread-safe counts of the run's ESG API traffic (the summary's `api` block)."""

from __future__ import annotations

import threading

from esg_assets.domain.summary import ApiCounts


class ApiCounters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = {"requests": 0, "retries": 0, "rate_limited": 0, "token_refreshes": 0}

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount

    def snapshot(self) -> ApiCounts:
        with self._lock:
            return ApiCounts(**self._counts)
