"""The places of an in-flight ceiling (ESG_API_MAX_CONCURRENCY): at most `limit` requests hold
one at a time (`with places:` around a request, `BearerGetter.get`).

The places are a POSIX semaphore (multiprocessing's `SemLock`, used here by threads of one
process, never shared with another) rather than `threading.BoundedSemaphore`. The workers are
twice the ceiling, so half of them wait for a place all the time, and a place freed is mostly
taken back by the worker that freed it (it goes on to its next account at once): the waiter its
release woke finds none and waits again. `threading`'s semaphore does that round in Python, on
the GIL the 64 workers share (the waiter re-takes it, runs its Condition, allocates a new waiter
lock); `sem_wait` does it in the kernel without the GIL. That was a fifth to a quarter of the
calls phase's CPU (docs/benchmarks.md, "CPU per called account"). Neither is fair (a `threading`
Condition wakes in order, but the releaser takes the place first); the ceiling is all the
contract asks of the places.
"""

from __future__ import annotations

import multiprocessing
import threading
from typing import Protocol


class Places(Protocol):
    """A bounded counting semaphore: `with places:` holds one place for the block."""

    def __enter__(self) -> object: ...

    def __exit__(self, *exc: object) -> object: ...


def in_flight_places(limit: int) -> Places:
    """`limit` places; releasing one more than was taken raises ValueError (as threading's)."""
    try:
        # The fork context's semaphores are unlinked at once (no name left in /dev/shm, no
        # resource-tracker process); nothing is forked.
        return multiprocessing.get_context("fork").BoundedSemaphore(limit)
    except (OSError, ValueError):  # no POSIX semaphores here (no /dev/shm): the same ceiling in Python
        return threading.BoundedSemaphore(limit)
