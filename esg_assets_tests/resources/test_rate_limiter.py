"""The shared rate limiter: never more than R requests in any 1 s window, spread evenly."""

import threading
import time

import pytest

from esg_assets.resources.rate_limiter import RateLimiter


def max_in_any_window(times: list[float], window: float = 1.0) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] > window:  # a closed 1 s window [t-1, t]
            start += 1
        best = max(best, end - start + 1)
    return best


def test_many_threads_never_exceed_the_limit_in_any_window() -> None:
    limiter = RateLimiter(40)
    stamps: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            limiter.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(stamps) == 120
    assert max_in_any_window(stamps) <= 40
    # Evenly spread: about 1/R apart, so 120 requests take about 3 s, not a burst per second.
    assert max(stamps) - min(stamps) >= 119 / 40 * 0.95


class VirtualTime:
    """A clock that only the limiter's sleeps move (`late` is added to the first of them)."""

    def __init__(self, start: float, late: float = 0.0) -> None:
        self.now, self.late = start, late

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds + self.late
        self.late = 0.0


def released(limiter: RateLimiter) -> list[float]:
    return list(limiter._released)  # noqa: SLF001 - the release log


def test_turns_are_one_interval_apart_with_a_virtual_clock() -> None:
    t = VirtualTime(100.0)
    limiter = RateLimiter(4, clock=t.clock, sleep=t.sleep)
    stamps = []
    for _ in range(9):
        limiter.acquire()
        stamps.append(t.now)
    steps = [b - a for a, b in zip(stamps, stamps[1:4])]
    # Evenly 1/R apart, widened by the window's margin (at most 1 %): (1 s + margin)/R.
    assert stamps[0] == 100.0 and steps == pytest.approx([steps[0]] * 3) and 0.25 <= steps[0] <= 0.25 * 1.01
    # The fifth lands strictly after the first one's 1 s window.
    assert stamps[4] > 101.0
    assert max_in_any_window(stamps) <= 4


def test_fractional_rates_keep_at_least_one_request() -> None:
    t = VirtualTime(0.0)
    limiter = RateLimiter(0.5, clock=t.clock, sleep=t.sleep)
    limiter.acquire()
    first = t.now
    limiter.acquire()
    assert (first, t.now) == (0.0, 2.0)


def test_a_request_is_counted_when_its_block_ends_not_when_its_turn_came() -> None:
    # The ceiling is counted at the instant the request was written: a writer delayed inside its
    # turn (a busy core) moves its own instant later, so the next one's window starts later too.
    t = VirtualTime(10.0)
    limiter = RateLimiter(2, clock=t.clock, sleep=t.sleep)
    with limiter.turn():
        t.now += 0.3  # the request is written 0.3 s after its turn came
    limiter.acquire()
    second = t.now
    limiter.acquire()
    assert second == pytest.approx(10.55, abs=0.005)  # half an interval after the first's written instant
    # The third waits for the first one's 1 s window, counted from 10.3 (its turn came at 10.0).
    assert t.now > 10.3 + 1.0


def test_a_late_request_leaves_at_least_half_an_interval_after_the_last() -> None:
    t = VirtualTime(50.0, late=0.25)
    limiter = RateLimiter(10, clock=t.clock, sleep=t.sleep)
    for _ in range(3):
        limiter.acquire()
    assert released(limiter) == pytest.approx([50.0, 50.35, 50.4], abs=0.005)


@pytest.mark.cadence  # run alone: see below and the Makefile
def test_an_outside_observer_sees_the_limit_and_the_in_flight_ceiling() -> None:
    """Arrival times at a real server (the contract's observer, 5 % slack for jitter).

    "The limit is used" (>= 90 of R = 100) is a wall-clock promise with 4 places: it holds while
    one exchange (5 ms of latency plus both ends' CPU) stays under 4 intervals (40 ms). Beside the
    parallel suite at a load of 18-19 on 2 cores a place was held 107-140 ms at the 90th
    percentile and the schedule stood idle 2.1-2.6 s of a 6.2-6.7 s fetch (88-89 in the busiest
    second): 4 places per 100 ms is all a client can do then, so the test runs in the `cadence`
    part, alone on the machine."""
    from esg_assets.worker_pool import fetch_in_batches
    from esg_assets.resources.clients import open_upstream
    from esg_assets.settings import load_upstream
    from esg_assets_tests.sandbox.harness import SandboxProcess

    with SandboxProcess(accounts=400, seed=47, latency_ms=5) as sb:
        settings = load_upstream({**sb.env(), "ESG_API_RATE_LIMIT_PER_SECOND": "100", "ESG_API_MAX_CONCURRENCY": "4"})
        ids = [f"ACC-{i:07d}" for i in range(1, 401)]
        results: list = []
        with open_upstream(settings) as upstream:
            fetch_in_batches(upstream.esg.fetch_analysis, ids, upstream.workers, results.extend)
        stats = sb.stats()
    assert len(results) == 400
    assert stats["esg_max_per_second"] <= 105
    assert stats["esg_max_per_second"] >= 90  # the limit is used, not wasted
    assert stats["esg_max_in_flight"] <= 4
