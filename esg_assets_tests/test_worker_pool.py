"""Stopping a fetch early (the run is terminated, which Dagster raises in the calling thread):
workers leave their backoff waits at once instead of sitting out ESG_API_BACKOFF_MAX_SECONDS,
no request is sent afterwards, and every result already received is still committed."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from esg_assets.domain.models import AccountResult
from esg_assets.worker_pool import fetch_in_batches
from esg_assets.resources.clients import open_upstream
from esg_assets.settings import load_upstream
from esg_assets_tests.sandbox.harness import SandboxProcess


class Terminated(Exception):
    """Stands for DagsterExecutionInterruptedError, raised in the thread feeding the workers."""


@pytest.mark.integration
def test_an_interrupt_ends_backoff_waits_at_once_and_keeps_the_results_received() -> None:
    # The sandbox admits 20 requests/s and answers the rest 429: those accounts go into a
    # backoff of 10 to 20 s (base 20 s), which the interrupt must cut short.
    with SandboxProcess(accounts=200, seed=47, rate_limit=20) as sb:
        ids = [a["account_id"] for a in sb.accounts()]
        settings = load_upstream({**sb.env(), "ESG_API_MAX_CONCURRENCY": "8", "ESG_API_RATE_LIMIT_PER_SECOND": "200",
                                  "ESG_API_BACKOFF_BASE_SECONDS": "20", "ESG_API_BACKOFF_MAX_SECONDS": "30"})
        committed: list[AccountResult] = []
        interrupted_at = 0.0

        def feed() -> Iterator[str]:
            nonlocal interrupted_at
            for n, account_id in enumerate(ids):
                if n == 30:
                    time.sleep(1.5)  # requests answered, 429s received, workers now in backoff
                    interrupted_at = time.monotonic()
                    raise Terminated
                yield account_id

        with open_upstream(settings) as upstream, pytest.raises(Terminated):
            fetch_in_batches(upstream.esg.fetch_analysis, feed(), upstream.workers, committed.extend,
                             stop=upstream.stop)
        stopped_in = time.monotonic() - interrupted_at
        sent = len(sb.requests())
        time.sleep(1.0)
        log = [r for r in sb.requests() if r["kind"] == "analysis"]

    assert stopped_in < 5.0, f"took {stopped_in:.1f} s to stop"  # not a 10-20 s backoff
    assert len(log) == sent - 1  # nothing was sent after the return (the one other request: the token)
    assert any(r["status"] == 429 for r in log)  # there were backoffs to cut short
    answered = {r["account_id"] for r in log if r["status"] == 200}
    assert answered and {r.account_id for r in committed} == answered  # every answer committed
    assert len(committed) == len(answered)


def test_the_objects_before_the_fetch_are_kept_out_of_the_collector_while_it_runs() -> None:
    # Every call makes short-lived objects that trigger the cyclic collector, which would walk
    # every object the process already holds (Dagster, DuckDB, the definitions) each time.
    # They are frozen for the fetch (docs/benchmarks.md, "CPU per called account") and, when
    # nothing was frozen before, given back to the collector afterwards, also when the fetch fails.
    import gc

    gc.unfreeze()
    seen: list[int] = []

    def fetch(account_id: str) -> AccountResult:
        seen.append(gc.get_freeze_count())
        raise Terminated

    with pytest.raises(Terminated):
        fetch_in_batches(fetch, ["ACC-1"], 1, lambda batch: None)
    assert seen and seen[0] > 0
    assert gc.get_freeze_count() == 0


def test_what_was_frozen_before_the_fetch_stays_frozen_after_it() -> None:
    # The run's process froze the definitions' objects when it loaded them (collector.py): the
    # fetch must not hand them back to the collector (every later collection of the run, and the
    # shutdown's, would walk them again).
    import gc

    gc.freeze()
    before = gc.get_freeze_count()
    try:
        with pytest.raises(Terminated):
            fetch_in_batches(_terminated, ["ACC-1"], 1, lambda batch: None)
        assert gc.get_freeze_count() >= before > 0
    finally:
        gc.unfreeze()


def _terminated(account_id: str) -> AccountResult:
    raise Terminated


def _result(account_id: str) -> AccountResult:
    from datetime import UTC, datetime

    from esg_assets.domain.models import ErrorKind, Status

    return AccountResult(account_id, Status.FAILED, None, 1, ErrorKind.HTTP_STATUS, 500, "x", datetime.now(UTC))


def test_the_workers_keep_calling_while_the_calling_thread_commits() -> None:
    # The calling thread feeds the workers and commits every batch; a commit or a forecast holds
    # it for a tenth of a second and more at times. What is queued must carry the workers
    # through: here the first commit is held until the workers have called 300 more accounts (at
    # most 5 s), with `queued` = 1,000. Before `queued`, 2 x workers = 8 were queued: 8 calls.
    import threading

    calls = 0
    lock = threading.Lock()
    more = threading.Event()
    during: list[int] = []

    def fetch(account_id: str) -> AccountResult:
        nonlocal calls
        time.sleep(0.002)
        with lock:
            calls += 1
            if during and calls >= during[0] + 300:
                more.set()
        return _result(account_id)

    held: list[int] = []  # accounts called while the commit was held

    def commit(batch: list[AccountResult]) -> None:
        if not during:
            with lock:
                during.append(calls)
            more.wait(5.0)
            with lock:
                held.append(calls - during[0])

    ids = [f"ACC-{i:07d}" for i in range(1, 2001)]
    assert fetch_in_batches(fetch, ids, 4, commit, batch_size=10, queued=1000) == 2000
    assert held[0] >= 300, f"the workers called {held[0]} accounts while the commit was held, not 300"
