"""One limiter shared by all workers: at most R requests in any 1 s window, evenly spread.

Each request reserves the next free slot, 1/R after the previous one, so requests leave at an
even pace instead of in bursts (the provider measures arrivals with only 5 % slack). A sliding
window of the last R slots guarantees the hard ceiling even when slots are reserved late.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

# Margin added to the 1 s window so that the (R+1)-th request lands strictly after it.
_WINDOW_MARGIN_SECONDS = 0.002


class RateLimiter:
    def __init__(
        self,
        rate_per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        self.rate = rate_per_second
        self._interval = 1.0 / rate_per_second
        self._cap = max(1, math.floor(rate_per_second))
        self._window: deque[float] = deque(maxlen=self._cap)
        self._next = 0.0
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def reserve(self) -> float:
        """Reserve the next slot; returns how long the caller must wait before sending."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            if len(self._window) == self._cap:
                slot = max(slot, self._window[0] + 1.0 + _WINDOW_MARGIN_SECONDS)
            self._window.append(slot)
            self._next = slot + self._interval
            return slot - now

    def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
