"""Calling many accounts in parallel and handing their results back in batches.

Workers run the ESG client (which holds the rate limiter and the in-flight ceiling); the
calling thread alone receives results and commits them, so the state database has one writer.
At most `workers * 2` accounts are queued at once: memory does not grow with the account list.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from esg_assets.domain.models import AccountResult

# Results are committed every BATCH_SIZE results or BATCH_SECONDS, whichever comes first: a
# crash repeats at most one uncommitted batch of calls (docs/data-flow.md, "Resume").
BATCH_SIZE = 500
BATCH_SECONDS = 2.0


@dataclass
class _Crash:
    error: BaseException


def fetch_in_batches(
    fetch: Callable[[str], AccountResult],
    account_ids: Iterable[str],
    workers: int,
    on_batch: Callable[[list[AccountResult]], None],
    batch_size: int = BATCH_SIZE,
    batch_seconds: float = BATCH_SECONDS,
) -> int:
    """Fetch every account; `on_batch` runs in this thread. Returns the number fetched.

    An exception in a worker (a critical error such as a refused token) stops new calls,
    commits the results already received, and is raised here.
    """
    results: queue.Queue[AccountResult | _Crash] = queue.Queue()
    slots = threading.Semaphore(workers * 2)
    stop = threading.Event()
    batch: list[AccountResult] = []
    last_flush = time.monotonic()
    done = 0
    crash: BaseException | None = None

    def task(account_id: str) -> None:
        try:
            if not stop.is_set():
                results.put(fetch(account_id))
            else:
                results.put(_Crash(RuntimeError("cancelled")))
        except BaseException as err:  # noqa: BLE001 - handed to the calling thread
            results.put(_Crash(err))
        finally:
            slots.release()

    def take(item: AccountResult | _Crash) -> None:
        nonlocal crash, done
        if isinstance(item, _Crash):
            if crash is None and not (stop.is_set() and str(item.error) == "cancelled"):
                crash = item.error
            stop.set()
        else:
            batch.append(item)
            done += 1

    def flush(force: bool = False) -> None:
        nonlocal batch, last_flush
        if batch and (force or len(batch) >= batch_size or time.monotonic() - last_flush >= batch_seconds):
            on_batch(batch)
            batch = []
            last_flush = time.monotonic()

    pending = 0
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="esg-fetch") as pool:
        for account_id in account_ids:
            while not slots.acquire(timeout=0.1):
                while not results.empty():
                    take(results.get())
                    pending -= 1
                flush()
            if stop.is_set():
                slots.release()
                break
            pool.submit(task, account_id)
            pending += 1
            while not results.empty():
                take(results.get())
                pending -= 1
            flush()
        while pending > 0:
            try:
                item = results.get(timeout=batch_seconds)
            except queue.Empty:
                flush(force=True)
                continue
            take(item)
            pending -= 1
            flush()
    flush(force=True)
    if crash is not None:
        raise crash
    return done
