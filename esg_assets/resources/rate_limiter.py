"""One limiter shared by all workers: at most R requests in any 1 s window, evenly spread.

Each request reserves the next free slot, 1/R after the previous one, so requests leave at an
even pace instead of in bursts (the provider measures arrivals with only 5 % slack).

Reserving is not sending: a thread that sleeps until its slot may wake late (timer slack, the
GIL, a busy core), while the thread holding the next slot wakes on time. A ceiling checked only
on reserved slots therefore lets R+1 real sends fall into one window. So the hard ceiling is
checked a second time at release, against the instants requests were actually let go.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

# Margin added to the 1 s window so that the (R+1)-th request lands strictly after it, with room
# for the few hundred microseconds between release and the bytes reaching the socket.
_WINDOW_MARGIN_SECONDS = 0.002
# Releases are at least this many intervals (1/R) apart. A request waits for its in-flight place
# after its slot, so without it the requests waiting for places would all leave the moment
# answers free their places, in bursts the window ceiling allows but the provider's observer
# counts with the answers' jitter (docs/benchmarks.md, "The whole run"). Below 1, so a release
# that came late can still catch up.
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
        self._window: deque[float] = deque(maxlen=self._cap)  # reserved slots
        self._released: deque[float] = deque(maxlen=self._cap)  # instants requests were let go
        self._next = 0.0
        self._last_release = -math.inf
        self._lock = threading.Lock()
        self._gate = threading.Lock()
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
        """Wait for a slot and pass the release gate (`wait_for_slot`, then `release`)."""
        self.wait_for_slot()
        self.release()

    def wait_for_slot(self) -> None:
        """Reserve the next slot and sleep until it. Holds nothing: the caller may wait for
        other things (an in-flight place) before `release`, which checks the real instant."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)

    def release(self) -> None:
        """Pass the release gate that enforces the ceiling on real send instants, just before
        sending. The gate is held while it sleeps: nobody may be released before the sleeper
        (its wait is due to the R-th previous release, which binds everyone after it too), and
        it keeps the release log in time order without a retry loop. A caller that came late
        from its slot (it waited for an in-flight place) is still counted at its real instant."""
        with self._gate:
            now = self._clock()
            earliest = self._last_release + _MIN_SPACING_INTERVALS * self._interval
            if len(self._released) == self._cap:
                earliest = max(earliest, self._released[0] + 1.0 + _WINDOW_MARGIN_SECONDS)
            if now < earliest:
                self._sleep(earliest - now)
                now = max(self._clock(), earliest)
            self._released.append(now)
            self._last_release = now
