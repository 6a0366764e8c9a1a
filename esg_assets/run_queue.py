"""The run queue, and the one slot of the state database's pool stored before any run enters it.

Dagster 1.13.27's run queue applies `concurrency.pools.default_limit` only from its second pass
over a pool: the pass that first meets `esg_state_db` stores the default limit after reading the
pools it knows, so every run it dequeues in that pass ignores the pool. Measured on a fresh
instance with `max_concurrent_runs: 4`: four backfill days queued before the daemon started all
started together and waited on DuckDB's lock inside their steps. So the limit is stored here,
when a run is submitted to the queue (UI, schedule, sensors, backfills, `dagster job launch`,
`run_retries`), before any pass can see the run; the alert sensors also store it at each tick.
A limit someone set (`dagster instance concurrency set esg_state_db N`) is left alone.

`QueuedRunCoordinator` is imported from Dagster's private module: 1.13.27 does not export it
from `dagster`; dagster.yaml names it by this path (`dagster.core.run_coordinator`) too.
"""

from __future__ import annotations

import logging

import dagster as dg
from dagster._core.run_coordinator import QueuedRunCoordinator, SubmitRunContext

from esg_assets.jobs import STATE_DB_POOL

log = logging.getLogger(__name__)


def store_state_db_pool_limit(instance: dg.DagsterInstance, log: object) -> None:
    """Store the `esg_state_db` pool's one slot if nobody has (see the module). Never raises:
    a storage hiccup must not refuse a run or take an alert tick down."""
    storage = instance.event_log_storage
    try:
        if storage.supports_global_concurrency_limits and STATE_DB_POOL not in storage.get_concurrency_keys():
            storage.set_concurrency_slots(STATE_DB_POOL, 1)
    except Exception as err:
        log.warning(f"could not store the {STATE_DB_POOL} pool limit: {type(err).__name__}: {err}")  # type: ignore[attr-defined]


class StateDbRunCoordinator(QueuedRunCoordinator):
    """Dagster's queued run coordinator that stores the state database's pool limit first."""

    def submit_run(self, context: SubmitRunContext) -> dg.DagsterRun:
        store_state_db_pool_limit(self._instance, log)
        return super().submit_run(context)
