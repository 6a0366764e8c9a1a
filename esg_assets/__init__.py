"""ESG ratings batch job: a daily-partitioned Dagster asset graph.

`dagster ... -m esg_assets` loads the definitions through this package; importing it does no I/O.
`defs` is loaded on first use (PEP 562 `__getattr__`, listed by `__dir__`, which is how Dagster's
module loader finds a `Definitions` object): a process that never asks for it (`esg-ratings files
get`, the sandbox, a test's spawned child) does not import Dagster and the definitions, which cost
about 2.4 CPU-s and 150 MB before it does anything (docs/operations.md, "Tests").

It does set the process's umask to 077: every process of the job imports this package first (the
`dagster` CLI, the daemon, the webserver's code server, each run worker, `esg-ratings`), and
Dagster's event logs and compute logs name account IDs. Without it they were 0644 in 0755
folders, readable by every user of the machine (docs/security.md, "What a reader of DAGSTER_HOME
sees"). Files meant for other users (the Prometheus textfile) are given their mode explicitly.
"""

import os

os.umask(0o077)

__all__ = ["defs"]


def __getattr__(name: str) -> object:
    """`esg_assets.defs`, imported the first time it is asked for."""
    if name == "defs":
        return _load_definitions()
    raise AttributeError(name)


def _load_definitions() -> object:
    """The definitions, with what loading them made kept off the cyclic collector (collector.py)."""
    from esg_assets.collector import load_frozen

    return load_frozen(_import_definitions)


def _import_definitions() -> object:
    from esg_assets.definitions import defs

    return defs


def __dir__() -> list[str]:
    """The module's names with `defs`, so Dagster's loader (which walks `dir(module)`) finds it."""
    return sorted([*globals(), "defs"])
