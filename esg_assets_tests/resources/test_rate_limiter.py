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


def test_slots_are_reserved_one_interval_apart_with_a_virtual_clock() -> None:
    now = [100.0]
    limiter = RateLimiter(4, clock=lambda: now[0], sleep=lambda s: None)
    waits = [limiter.reserve() for _ in range(9)]
    assert waits[:4] == [0.0, 0.25, 0.5, 0.75]
    # The fifth lands strictly after the first one's 1 s window.
    assert waits[4] > 1.0
    slots = [100.0 + w for w in waits]
    assert max_in_any_window(slots) <= 4


def test_fractional_rates_keep_at_least_one_request() -> None:
    now = [0.0]
    limiter = RateLimiter(0.5, clock=lambda: now[0], sleep=lambda s: None)
    assert limiter.reserve() == 0.0
    assert limiter.reserve() >= 2.0


def test_an_outside_observer_sees_the_limit_and_the_in_flight_ceiling() -> None:
    """Arrival times at a real server (the contract's observer, 5 % slack for jitter)."""
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


def test_requests_let_go_together_leave_at_least_half_an_interval_apart() -> None:
    # Requests that waited for an in-flight place after their slots reach the release gate
    # together when answers free the places: they leave spread, not in a burst.
    now = [50.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    limiter = RateLimiter(10, clock=lambda: now[0], sleep=sleep)
    for _ in range(4):
        limiter.release()  # all four arrive at the gate at the same instant
    released = list(limiter._released)  # noqa: SLF001 - the release log
    assert released == pytest.approx([50.0, 50.05, 50.1, 50.15])
