"""When the cyclic garbage collector is kept off long-lived objects (`gc.freeze()`).

A run's process holds about 220,000 objects from loading the definitions (Dagster, dagster-aws,
DuckDB, the job's modules) and more from the run (the instance, its storages). Each full
collection walks every one of them, and the interpreter's shutdown collects them all again:
that shutdown was the run's last second on a quiet machine, after the last step and Dagster's
run-end events, and four seconds under load (docs/benchmarks.md, "The fixed steps"). Moving them
to the permanent generation takes constant time; objects made afterwards are collected as
before, objects the program lets go are still freed by their reference counts, and only a
reference cycle already unreachable at that instant stays in memory (a few hundred objects).
Imports nothing but `gc`: the package's `__init__` uses it before Dagster is loaded.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
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


def freeze_for_exit() -> None:
    """At the end of the day's last step: what the process holds now lives until it exits, so
    the shutdown need not collect it (the run's end: about 1 s less on a quiet machine)."""
    gc.freeze()
