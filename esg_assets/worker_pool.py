"""The worker pool of `esg_ratings`: many accounts called in parallel, their results handed back
in batches to the one thread that commits them. (The HTTP itself is the ESG client's.)

Workers run the ESG client (which holds the rate limiter and the in-flight ceiling); the
calling thread alone receives results and commits them, so the state database has one writer.
At most `queued` accounts (at least `workers * 2`) wait for a worker at once: memory does not
grow with the account list, and while the calling thread commits a batch or reports the
forecast, the workers live on what is queued (a commit or a forecast holds the calling thread
for a tenth of a second and more at times: docs/benchmarks.md, "The calling thread's stalls").

Stopping early (a critical error in a worker, or the run being terminated, which Dagster raises
in the calling thread) sets `stop`: queued accounts are skipped, a worker in a backoff wait gives
up its account (RetryStopped, through the client's stoppable sleep), and the results already
received are still committed, so a resume repeats as few calls as possible.

The workers are long-lived threads; accounts and results pass through two deques, which a
thread appends to and pops from without waking anyone. The calling thread looks at them every
`_TICK_SECONDS` (topping the accounts up, taking the results): a blocking queue woke a thread
per account and per result, and those wake-ups (a lock released to a waiter, a GIL hand-off on
2 cores) were a third of the fetch's CPU (docs/benchmarks.md, "Where the fetch's CPU goes").
A worker that finds no account waits on a condition, notified only when one is waiting.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

from esg_assets.collector import frozen_meanwhile
from esg_assets.domain.models import AccountResult
from esg_assets.resources.retry import RetryStopped

# Results are committed every BATCH_SIZE results, and no result waits longer than BATCH_SECONDS
# for its commit: a crash loses at most the answers of the last 0.5 s (docs/spec.md#resume;
# docs/data-flow.md, "Resume"). So at R = 1,000 the time commits (about 500 results a batch); the
# size only caps a batch when calls come faster. A batch's cost in DuckDB grows far less than its
# size (a scan of the partition's accounts and the commit are paid per batch): at 100 a batch the
# commits were a third of the calls phase's CPU (docs/benchmarks.md, "CPU per called account").
BATCH_SIZE = 1000
BATCH_SECONDS = 0.5
# How often the calling thread tops the accounts up and takes the results (at R = 1,000 that is
# ten results a look, and 2 x workers accounts queued last far longer than one tick).
_TICK_SECONDS = 0.01
# How long an idle worker waits before it looks again (a notification is normally sooner).
_IDLE_WAIT_SECONDS = 0.05

_CANCELLED = object()  # an account skipped after a critical error: no result, no call


class _Crash:
    def __init__(self, error: BaseException):
        self.error = error


def fetch_in_batches(
    fetch: Callable[[str], AccountResult],
    account_ids: Iterable[str],
    workers: int,
    on_batch: Callable[[list[AccountResult]], None],
    batch_size: int = BATCH_SIZE,
    batch_seconds: float = BATCH_SECONDS,
    stop: threading.Event | None = None,
    on_tick: Callable[[int], None] | None = None,
    queued: int = 0,
) -> int:
    """Fetch every account; `on_batch` runs in this thread. Returns the number fetched.

    An exception in a worker (a critical error such as a refused token) stops new calls,
    commits the results already received, and is raised here; so is an exception raised in this
    thread (an interrupt). `stop` is the event `fetch`'s backoff waits watch (UpstreamClients.stop).
    `on_tick(done)` runs in this thread at least every `batch_seconds` (the window forecast).
    `queued`: how many accounts may wait for a worker (at least `workers * 2`).
    """
    # Every call leaves short-lived objects that trigger the cyclic collector, which would walk
    # every object the process already holds (Dagster, DuckDB, the definitions) each time.
    with frozen_meanwhile():
        return _fetch_in_batches(fetch, account_ids, workers, on_batch, batch_size, batch_seconds, stop, on_tick,
                                 max(workers * 2, queued))


def _fetch_in_batches(
    fetch: Callable[[str], AccountResult],
    account_ids: Iterable[str],
    workers: int,
    on_batch: Callable[[list[AccountResult]], None],
    batch_size: int,
    batch_seconds: float,
    stop: threading.Event | None,
    on_tick: Callable[[int], None] | None,
    capacity: int,
) -> int:
    inbox: deque[str] = deque()
    results: deque[object] = deque()
    stop = threading.Event() if stop is None else stop
    fed = threading.Event()  # no account will be added: an idle worker exits
    idle = threading.Condition()
    waiting = 0  # workers waiting on `idle` (read and changed under its lock)
    batch: list[AccountResult] = []
    oldest = 0.0  # when the first result of `batch` arrived
    done = 0
    pending = 0  # accounts handed to the workers whose result has not been taken yet
    crash: BaseException | None = None

    def next_account() -> str | None:
        nonlocal waiting
        while True:
            try:
                return inbox.popleft()
            except IndexError:
                pass
            with idle:
                if inbox:
                    continue
                if fed.is_set():
                    return None
                waiting += 1
                idle.wait(_IDLE_WAIT_SECONDS)
                waiting -= 1

    def work() -> None:
        while (account_id := next_account()) is not None:
            if stop.is_set():
                results.append(_CANCELLED)
                continue
            try:
                results.append(fetch(account_id))
            except RetryStopped:  # stopped in a backoff wait: no result, called again next run
                results.append(_CANCELLED)
            except BaseException as err:  # noqa: BLE001 - handed to the calling thread
                stop.set()
                results.append(_Crash(err))

    def wake(everyone: bool = False) -> None:
        with idle:
            if everyone:
                idle.notify_all()
            elif waiting:
                idle.notify(waiting)

    def take(item: object) -> None:
        nonlocal crash, done, pending, oldest
        pending -= 1
        if item is _CANCELLED:
            return
        if isinstance(item, _Crash):
            if crash is None:
                crash = item.error
            stop.set()
        else:
            assert isinstance(item, AccountResult)
            if not batch:
                oldest = time.monotonic()
            batch.append(item)
            done += 1

    def drain() -> None:
        while True:
            try:
                take(results.popleft())
            except IndexError:
                return

    def flush(force: bool = False) -> None:
        nonlocal batch
        if on_tick is not None:
            on_tick(done)
        if batch and (force or len(batch) >= batch_size or time.monotonic() - oldest >= batch_seconds):
            on_batch(batch)
            batch = []

    def shut_down() -> None:
        stop.set()  # workers skip whatever is still queued and leave their backoff waits
        fed.set()
        wake(everyone=True)
        for thread in threads:
            thread.join()

    threads = [threading.Thread(target=work, name=f"esg-fetch-{i}", daemon=True) for i in range(workers)]
    for thread in threads:
        thread.start()
    accounts = iter(account_ids)
    try:
        while not fed.is_set():
            while len(inbox) < capacity and not stop.is_set():
                account_id = next(accounts, None)
                if account_id is None:
                    fed.set()  # every account is queued
                    break
                inbox.append(account_id)
                pending += 1
            if stop.is_set():
                fed.set()
            wake(everyone=fed.is_set())
            drain()
            flush()
            if not fed.is_set():
                time.sleep(_TICK_SECONDS)
        while pending > 0:
            time.sleep(_TICK_SECONDS)
            drain()
            flush()
    except BaseException:
        # Interrupted (the run is being terminated) or `on_batch` failed: keep what arrived.
        shut_down()
        drain()
        with contextlib.suppress(Exception):  # the error being raised matters more
            flush(force=True)
        raise
    shut_down()
    drain()
    flush(force=True)
    if crash is not None:
        raise crash
    return done
