"""The run queue, and the one slot of the state database's pool stored before any run enters it.

Dagster 1.13.27's run queue applies `concurrency.pools.default_limit` only from its second pass
over a pool: the pass that first meets `esg_state_db` stores the default limit after reading the
pools it knows, so every run it dequeues in that pass ignores the pool. Measured on a fresh
instance with `max_concurrent_runs: 4`: four backfill days queued before the daemon started all
started together and waited on DuckDB's lock inside their steps. So the limit is stored here,
when a run is submitted to the queue (UI, schedule, sensors, backfills, `dagster job launch`,
`run_retries`), before any pass can see the run, with the function the alert sensors call at
each tick (`sensors.py::store_state_db_pool_limit`).
A limit someone set (`dagster instance concurrency set esg_state_db N`) is left alone.

`QueuedRunCoordinator` is imported from Dagster's private module: 1.13.27 does not export it
from `dagster`; dagster.yaml names it by this path (`dagster.core.run_coordinator`) too.
"""

from __future__ import annotations

import logging

import dagster as dg
from dagster._core.run_coordinator import QueuedRunCoordinator, SubmitRunContext

from esg_assets.sensors import store_state_db_pool_limit  # the one place of the rule

log = logging.getLogger(__name__)


class StateDbRunCoordinator(QueuedRunCoordinator):
    """Dagster's queued run coordinator that stores the state database's pool limit first."""

    def submit_run(self, context: SubmitRunContext) -> dg.DagsterRun:
        store_state_db_pool_limit(self._instance, log)
        return super().submit_run(context)
