"""The order in which pytest-xdist hands out the suite's modules (`make test`: `--dist loadscope`).

xdist hands out whole modules, those with the most tests first. The suite's longest module is a
single test (the 14-day job backfill, `operations/test_backfill_concurrent.py`: 14 daemon-started
runs one after another, about 215 s of the suite's ~650 s on a quiet machine): handed out among
the last, it ran alone for minutes after every other module had finished. It goes first here;
every other module keeps xdist's own order. Handing out all the long (daemon, UI, PostgreSQL)
modules first was tried and was slower: they started at once and doubled each other's time
(docs/operations.md, "Tests").
"""

from __future__ import annotations

import pytest
from xdist.scheduler import LoadScopeScheduling

FIRST = ("esg_assets_tests/operations/test_backfill_concurrent.py",)


class LongestModuleFirst(LoadScopeScheduling):
    """xdist's load-by-module scheduling with the modules of FIRST at the head of its queue."""

    _reordered = False

    def _assign_work_unit(self, node) -> None:  # noqa: ANN001 - xdist's WorkerController
        # The queue is built (modules with most tests first) just before the first assignment.
        if not self._reordered:
            self._reordered = True
            for scope in reversed(FIRST):
                if scope in self.workqueue:
                    self.workqueue.move_to_end(scope, last=False)
        super()._assign_work_unit(node)


@pytest.hookimpl(tryfirst=True)  # before xdist's own implementation, which answers every --dist
def pytest_xdist_make_scheduler(config, log) -> LoadScopeScheduling | None:  # noqa: ANN001 - xdist's hook
    """`--dist loadscope` with FIRST first; any other `--dist` is xdist's own."""
    if config.getvalue("dist") != "loadscope":
        return None
    return LongestModuleFirst(config, log)
