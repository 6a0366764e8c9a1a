"""The worker pool of `esg_ratings`: many accounts called in parallel, their results handed back
in batches to the one thread that commits them. (The HTTP itself is the ESG client's.)

Workers run the ESG client (which holds the rate limiter and the in-flight ceiling); the
calling thread alone receives results and commits them, so the state database has one writer.
At most `workers * 2` accounts are queued at once: memory does not grow with the account list.

Stopping early (a critical error in a worker, or the run being terminated, which Dagster raises
in the calling thread) sets `stop`: queued accounts are skipped, a worker in a backoff wait gives
up its account (RetryStopped, through the client's stoppable sleep), and the results already
received are still committed, so a resume repeats as few calls as possible.

The workers are long-lived threads fed through a bounded queue rather than one executor task
per account: a `Future` per call (with its lock and condition) cost the calling thread more CPU
than committing the results, on a GIL that the workers need for their HTTP round trips.
"""

from __future__ import annotations

import contextlib
import gc
import queue
import threading
import time
from collections.abc import Callable, Iterable

from esg_assets.domain.models import AccountResult
from esg_assets.resources.retry import RetryStopped

# Results are committed every BATCH_SIZE results, and no result waits longer than BATCH_SECONDS
# for its commit: a crash loses at most the answers of the last 0.5 s (docs/spec.md#resume;
# docs/data-flow.md, "Resume").
BATCH_SIZE = 100
BATCH_SECONDS = 0.5
# How long the calling thread blocks on a full input queue before it looks at results again.
_FEED_WAIT_SECONDS = 0.05

_DONE = object()  # tells a worker to exit
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
) -> int:
    """Fetch every account; `on_batch` runs in this thread. Returns the number fetched.

    An exception in a worker (a critical error such as a refused token) stops new calls,
    commits the results already received, and is raised here; so is an exception raised in this
    thread (an interrupt). `stop` is the event `fetch`'s backoff waits watch (UpstreamClients.stop).
    `on_tick(done)` runs in this thread at least every `batch_seconds` (the window forecast).
    """
    # Every call leaves short-lived objects that trigger the cyclic collector, which would walk
    # every object the process already holds (Dagster, DuckDB, the definitions) each time: the
    # objects made before the fetch are frozen out of it meanwhile (about 8 % of the CPU per
    # account, docs/benchmarks.md) and handed back afterwards.
    gc.freeze()
    try:
        return _fetch_in_batches(fetch, account_ids, workers, on_batch, batch_size, batch_seconds, stop, on_tick)
    finally:
        gc.unfreeze()


def _fetch_in_batches(
    fetch: Callable[[str], AccountResult],
    account_ids: Iterable[str],
    workers: int,
    on_batch: Callable[[list[AccountResult]], None],
    batch_size: int,
    batch_seconds: float,
    stop: threading.Event | None,
    on_tick: Callable[[int], None] | None,
) -> int:
    inbox: queue.Queue[object] = queue.Queue(maxsize=workers * 2)
    results: queue.Queue[object] = queue.Queue()
    stop = threading.Event() if stop is None else stop
    batch: list[AccountResult] = []
    oldest = 0.0  # when the first result of `batch` arrived
    done = 0
    pending = 0  # accounts handed to the workers whose result has not been taken yet
    crash: BaseException | None = None

    def work() -> None:
        while True:
            account_id = inbox.get()
            if account_id is _DONE:
                return
            if stop.is_set():
                results.put(_CANCELLED)
                continue
            try:
                results.put(fetch(account_id))  # type: ignore[arg-type]
            except RetryStopped:  # stopped in a backoff wait: no result, called again next run
                results.put(_CANCELLED)
            except BaseException as err:  # noqa: BLE001 - handed to the calling thread
                stop.set()
                results.put(_Crash(err))

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
                take(results.get_nowait())
            except queue.Empty:
                return

    def flush(force: bool = False) -> None:
        nonlocal batch
        if on_tick is not None:
            on_tick(done)
        if batch and (force or len(batch) >= batch_size or time.monotonic() - oldest >= batch_seconds):
            on_batch(batch)
            batch = []

    def until_due() -> float:
        """How long the calling thread may block before the oldest result is due."""
        if not batch:
            return batch_seconds
        return max(0.0, oldest + batch_seconds - time.monotonic())

    def shut_down() -> None:
        stop.set()  # workers skip whatever is still queued and leave their backoff waits
        for _ in threads:
            inbox.put(_DONE)
        for thread in threads:
            thread.join()

    threads = [threading.Thread(target=work, name=f"esg-fetch-{i}", daemon=True) for i in range(workers)]
    for thread in threads:
        thread.start()
    try:
        for account_id in account_ids:
            while not stop.is_set():
                try:
                    inbox.put(account_id, timeout=min(_FEED_WAIT_SECONDS, until_due()))
                    pending += 1
                    break
                except queue.Full:
                    drain()
                    flush()
            if stop.is_set():
                break
            drain()
            flush()
        while pending > 0:
            try:
                item = results.get(timeout=until_due())
            except queue.Empty:
                flush()
                continue
            take(item)
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
