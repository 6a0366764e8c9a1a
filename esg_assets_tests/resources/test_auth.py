"""The shared token: reuse until shortly before expiry, and one refresh per revocation for all
workers of the process (upstream-apis.yaml, token endpoint x-client-behaviour)."""

from __future__ import annotations

import threading
from collections import Counter
import time

import pytest

from esg_assets.worker_pool import fetch_in_batches
from esg_assets.resources.auth import usable_seconds
from esg_assets.resources.clients import open_upstream
from esg_assets.settings import load_upstream
from esg_assets_tests.sandbox.harness import SandboxProcess


def test_token_is_reused_until_60_s_before_expiry_or_half_its_life() -> None:
    assert usable_seconds(3600) == 3540
    assert usable_seconds(121) == 61
    assert usable_seconds(120) == 60
    assert usable_seconds(30) == 15


def settings_for(sb: SandboxProcess, **extra: str):
    return load_upstream({**sb.env(), "ESG_API_BACKOFF_BASE_SECONDS": "0.05", "ESG_API_TIMEOUT_SECONDS": "2",
                          "ESG_API_RATE_LIMIT_PER_SECOND": "1000", **extra})


@pytest.mark.integration
def test_a_revocation_mid_run_costs_one_token_request_for_all_workers() -> None:
    with SandboxProcess(accounts=400, seed=41, latency_ms=30) as sb:
        ids = [a["account_id"] for a in sb.accounts()]
        results = []
        with open_upstream(settings_for(sb, ESG_API_MAX_CONCURRENCY="16")) as upstream:
            worker = threading.Thread(
                target=fetch_in_batches,
                args=(upstream.esg.fetch_analysis, ids, upstream.workers, results.extend),
            )
            worker.start()
            deadline = time.monotonic() + 30
            while sb.stats()["by_kind"].get("analysis", 0) < 100 and time.monotonic() < deadline:
                time.sleep(0.01)
            sb.revoke()  # every issued token is now refused: the 16 requests in flight meet 401
            worker.join(60)
            counts = upstream.counters.snapshot()
        assert len(results) == 400 and all(r.status.value == "Successful" for r in results)
        token_requests = [r for r in sb.requests() if r["kind"] == "token"]
        assert len(token_requests) == 2
        assert counts.token_refreshes == 1
        assert any(r["status"] == 401 for r in sb.requests() if r["kind"] == "analysis")
        seen = Counter(r["account_id"] for r in sb.requests() if r["kind"] == "analysis")
        assert all(r.attempts == seen[r.account_id] for r in results)  # requests made, re-sends included
        assert counts.retries == sum(n - 1 for n in seen.values()) > 0


@pytest.mark.integration
def test_a_short_lived_token_is_refreshed_before_it_expires() -> None:
    with SandboxProcess(accounts=30, seed=43, token_ttl=2) as sb:
        with open_upstream(settings_for(sb)) as upstream:
            first = upstream.esg.fetch_analysis("ACC-0000001")
            time.sleep(1.1)  # past half of a 2 s lifetime
            second = upstream.esg.fetch_analysis("ACC-0000002")
        assert first.status.value == second.status.value == "Successful"
        assert [r["kind"] for r in sb.requests()] == ["token", "analysis", "token", "analysis"]


@pytest.mark.integration
def test_the_steps_of_a_run_share_the_process_token() -> None:
    # active_accounts and esg_ratings each open the upstream; the token outlives the first.
    with SandboxProcess(accounts=30, seed=45) as sb:
        settings = settings_for(sb)
        with open_upstream(settings) as first:
            first.esg.fetch_analysis("ACC-0000001")
        with open_upstream(settings) as second:
            second.esg.fetch_analysis("ACC-0000002")
            sb.revoke()
            second.esg.fetch_analysis("ACC-0000003")  # 401, one refresh, counted in this step
            counts = second.counters.snapshot()
        assert [r["kind"] for r in sb.requests()] == ["token", "analysis", "analysis", "analysis", "token", "analysis"]
        assert counts.token_refreshes == 1 and first.counters.snapshot().token_refreshes == 0


def _storm_plan(rounds: int, start: int = 40, gap: int = 10) -> list[int]:
    """Revocations `gap` accepted requests apart, every other one followed by a second one at
    once (two in a row): rounds of [n, n + gap, n + gap + 1]."""
    plan, n = [], start
    for _ in range(rounds):
        plan += [n, n + gap, n + gap + 1]
        n += 2 * gap + 1
    return plan


@pytest.mark.integration
@pytest.mark.cadence  # run alone: see below and the Makefile
def test_close_revocations_with_64_workers_never_fail_and_cost_one_token_request_each() -> None:
    # 64 workers, ESG_API_MAX_CONCURRENCY=8 requests in flight and the rest waiting for a place,
    # 10 ms latency; tokens revoked 10 requests apart and twice in a row, over many rounds. Each
    # request takes its token when it is sent (not before its wait) and may be re-sent three
    # times with newer tokens: no request fails, and each revocation costs one token request.
    # "No request fails" holds while a re-sent request reaches the server before ten others are
    # accepted (the next revocation). Beside the parallel suite on 2 cores, one fresh-clone
    # run in six saw a worker refused four times in a row (its re-sends descheduled while the other
    # seven places went on): a measure of the machine, so the test runs in the `cadence` part.
    with SandboxProcess(accounts=1000, seed=47, latency_ms=10) as sb:
        ids = [a["account_id"] for a in sb.accounts()]
        plan = _storm_plan(rounds=25)
        sb.revoke_plan(plan)
        results = []
        with open_upstream(settings_for(sb, ESG_API_MAX_CONCURRENCY="8")) as upstream:
            fetch_in_batches(upstream.esg.fetch_analysis, ids, 64, results.extend)
            counts = upstream.counters.snapshot()
        stats = sb.stats()
        assert stats["revocations"] == len(plan)
        assert len(results) == 1000 and all(r.status.value == "Successful" for r in results)
        token_requests = [r for r in sb.requests() if r["kind"] == "token"]
        assert len(token_requests) == len(plan) + 1
        assert counts.token_refreshes == len(plan)


@pytest.mark.integration
def test_a_worker_waiting_for_an_in_flight_place_holds_no_rate_slot() -> None:
    # The limiter hands a due slot only to a request that holds its place (docs/benchmarks.md,
    # "One owner of rate and places"): a slot reserved while waiting for a place came late to it,
    # and the requests let go together when answers freed their places bunched. The token is
    # still taken after both waits (contract 1.1, token rule).
    from esg_assets.resources.auth import BearerGetter, shared_token_provider
    from esg_assets.resources.http import join_url, make_session
    from esg_assets.resources.rate_limiter import RateLimiter

    with SandboxProcess(accounts=5, seed=53) as sb:
        settings = settings_for(sb, ESG_API_MAX_CONCURRENCY="1")
        sleeps: list[float] = []

        def slot_sleep(seconds: float) -> None:
            sleeps.append(seconds)
            time.sleep(seconds)

        limiter = RateLimiter(1, sleep=slot_sleep)
        in_flight = threading.BoundedSemaphore(1)
        getter = BearerGetter(make_session(2), shared_token_provider(settings), settings, in_flight, limiter)
        answers: list = []
        url = join_url(settings.api_base_url, "/v1/accounts/ACC-0000001/esg-analysis")
        assert in_flight.acquire(timeout=10)  # the one place is busy
        worker = threading.Thread(target=lambda: answers.append(getter.get(url)))
        worker.start()
        worker.join(0.3)  # the worker is now waiting for the place
        limiter.acquire()  # another request of this second: its slot is free, no wait
        slept_before_the_place = list(sleeps)
        in_flight.release()
        worker.join(10)
        assert slept_before_the_place == [], "the worker waiting for a place had taken the next rate slot"
        assert answers and answers[0].status_code == 200
        assert len(sleeps) == 1  # the worker, once it had its place, waited for its slot (1/R after)
