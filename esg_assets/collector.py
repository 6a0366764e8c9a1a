"""When the cyclic garbage collector is kept off long-lived objects (`gc.freeze()`).

A run's process holds about 220,000 objects from loading the definitions (Dagster, dagster-aws,
DuckDB, the job's modules) and more from the run (the instance, its storages). Each full
collection walks every one of them, and the interpreter's shutdown collects them all again:
that shutdown was the run's last second on a quiet machine, after the last step and Dagster's
run-end events, and four seconds under load (docs/benchmarks.md, "The fixed steps"). Moving them
to the permanent generation takes constant time; objects made afterwards are collected as
before, objects the program lets go are still freed by their reference counts, and only a
reference cycle already unreachable at that instant stays in memory (a few hundred objects).
Imports nothing but the standard library: the package's `__init__` uses it before Dagster is loaded.

Three moments, all here:
- loading the definitions (`load_frozen`): what the import made is frozen, and the process
  freezes what it holds when it exits (an `atexit` hook), so the interpreter's shutdown does not
  collect it all again (the run's end: about 1 s on a quiet machine);
- the fetch (`frozen_meanwhile`, `worker_pool.py`): what exists before it is frozen while it runs.
"""

from __future__ import annotations

import atexit
import functools
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


def load_frozen(load: Callable[[], T]) -> T:
    """`load()` with the collector paused (every object the import makes survives it: its
    collections would find only a few hundred unreachable cycles), then its objects frozen.
    A host that switched the collector off keeps it off."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return load()
    finally:
        if was_enabled:
            gc.enable()
        gc.freeze()
        _freeze_at_exit()


@functools.cache
def _freeze_at_exit() -> None:
    """Once per process (cached): at exit (after the last step and Dagster's run-end events),
    what the process holds lives until the end anyway, so the shutdown's collections need not
    walk it. `atexit` runs before the interpreter's final collections."""
    atexit.register(gc.freeze)


@contextmanager
def frozen_meanwhile() -> Iterator[None]:
    """The objects that exist now are kept off the collector while the block runs (every call
    of the fetch leaves short-lived objects that trigger collections, each of which would walk
    them: about 8 % of the CPU per account, docs/benchmarks.md). Afterwards they are given back,
    unless something was frozen before (the definitions, `load_frozen`): the collector cannot
    give back part of what is frozen, and giving back all of it would put the definitions' objects
    under every later collection of the run again, so everything stays frozen then."""
    already = gc.get_freeze_count() > 0
    gc.freeze()
    try:
        yield
    finally:
        if not already:
            gc.unfreeze()
