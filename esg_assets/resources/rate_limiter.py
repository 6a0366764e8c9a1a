"""One limiter shared by all workers: at most R requests in any 1 s window, evenly spread, counted
at the instant each request's bytes were written.

A request is let go only when it holds an in-flight place (the caller takes the place first), so
the limiter alone decides when it leaves: `turn()` waits for the next due instant with the gate
held, the caller writes the request inside the block, and the instant is recorded when the block
ends. A slot is never reserved by a request still waiting for a place (it would come late to its
slot and the next ones would bunch), and nobody is counted before its bytes are out (a thread
released, then descheduled before writing, used to reach the server after later ones: R+5 in one
window at the observer). Requests waiting for the gate hold their places: they are the queue that
keeps every slot used, and their number is what the rate leaves free of the places.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# Margin added to the 1 s window so that the (R+1)-th request reaches the server strictly after it,
# with room for the server's own jitter in stamping arrivals (a loaded core delays one stamp and
# not the next). It costs at most margin/1 s of the rate (0.5 %) when the window binds.
_WINDOW_MARGIN_SECONDS = 0.005
# Releases are at least this many intervals (1/R) apart: a request that came late can catch up,
# but never in a burst the window allows and the observer counts with the answers' jitter.
_MIN_SPACING_INTERVALS = 0.5


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
        self._released: deque[float] = deque(maxlen=self._cap)  # instants requests were written
        self._next = -math.inf  # the even schedule's next slot
        self._last_release = -math.inf
        self._gate = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def _due(self, arrived: float) -> float:
        """The earliest instant the next request may leave: its slot on the even schedule, or
        the instant it came to the gate if that is later (no credit is banked while nobody
        waited; a request that waited behind a late one catches up), at least half an interval
        after the last one, and strictly after the 1 s window of the R-th last."""
        due = max(self._next, arrived, self._last_release + _MIN_SPACING_INTERVALS * self._interval)
        if len(self._released) == self._cap:
            due = max(due, self._released[0] + 1.0 + _WINDOW_MARGIN_SECONDS)
        return due

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for the next due instant and hold the gate while the block writes the request;
        the request is counted at the block's end, however it ends (a request that failed
        half-written may have reached the server). The gate is held while waiting: the waiter's
        due instant binds everyone behind it, and the release log stays in time order."""
        arrived = self._clock()
        with self._gate:
            now = self._clock()
            due = self._due(arrived)
            if now < due:
                self._sleep(due - now)
            self._next = due + self._interval
            try:
                yield
            finally:
                released = max(self._clock(), due)
                self._released.append(released)
                self._last_release = released

    def acquire(self) -> None:
        """Wait for a turn and count a request at once (a caller that sends right after)."""
        with self.turn():
            pass
