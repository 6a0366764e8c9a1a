"""The order in which `make test` hands modules to its xdist workers: the longest first.

`--dist loadscope` gives a worker a whole module at a time, in the order of the collection (with
`--no-loadscope-reorder`; xdist's default reorder puts the modules with the most tests first, which
sent the slowest ones, daemon tests of one or two tests each, to the end, where one worker ran
them alone). Longest-first is the classic way to keep a few workers' finishing times close.

The expected seconds come from `esg_assets_tests/module_seconds.json`, the wall time of each
module in a whole run (`scripts/module_seconds.py` writes it from a run's JUnit XML). A module it
does not know yet gets a guess from its markers. The order changes how long the suite takes,
never what it checks: every module still runs whole, on one worker, its tests in file order.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SECONDS_FILE = Path(__file__).resolve().parents[1] / "module_seconds.json"
GUESS = {"e2e": 60.0, "integration": 10.0}  # seconds for a module the file does not name yet
FAST = 1.0


def module_of(item: pytest.Item) -> str:
    """The module part of a test id: `esg_assets_tests/x/test_y.py`."""
    return item.nodeid.split("::", 1)[0]


def expected_seconds(items: list[pytest.Item], known: dict[str, float]) -> dict[str, float]:
    """Each module's expected wall time: the file's figure, else the guess of its markers."""
    out: dict[str, float] = {}
    for item in items:
        module = module_of(item)
        if module in known:
            out[module] = known[module]
            continue
        guess = max((GUESS[m.name] for m in item.iter_markers() if m.name in GUESS), default=FAST)
        out[module] = max(out.get(module, 0.0), guess)
    return out


def longest_first(items: list[pytest.Item], known: dict[str, float]) -> list[pytest.Item]:
    """The items grouped by module, the modules by expected seconds (longest first, then by
    id, so every worker collects the same order), each module's items in their own order."""
    seconds = expected_seconds(items, known)
    return sorted(items, key=lambda item: (-seconds[module_of(item)], module_of(item)))


def load_known(path: Path = SECONDS_FILE) -> dict[str, float]:
    """The committed figures; none (every module guessed) when the file is absent."""
    return json.loads(path.read_text()) if path.exists() else {}
