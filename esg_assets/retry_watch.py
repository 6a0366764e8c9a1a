"""A retry Dagster decided on and never launched: put its retry daemon back before the failure.

`run_retries` (dagster.yaml) works in two parts. When a run ends FAILURE, the instance stores the
RUN_FAILURE event, then updates the run's status, then tags the run `dagster/will_retry`. Every
5 s, the daemon's `EventLogConsumerDaemon` reads the run-status events that came after its cursor.
For each run they name it reads the run record, retries it if the record says so, and moves its
cursor past the events.

Dagster 1.13.27 orders these writes badly. Say the retry daemon reads the event after it was stored
but before the run's record was updated. It then sees a run that is still STARTED, with no
`will_retry` tag, and skips it. Its cursor has already moved past the event, so the run is never
retried. Yet its tag says it will be: `run_failed` says "retrying automatically", and no retry comes.
Seen once in four CI runs, and once in nine runs of `operations/test_host_loss.py` beside a CPU load:
the cursor at the failure's id, the run FAILURE with `will_retry=true`, no retry, nothing logged
(docs/operations.md, "A host lost").

`rearm_missed_retries`, called on every tick of the `run_failed` sensor, finds each such run: it
ended FAILURE with `will_retry=true` more than `GRACE_SECONDS` ago, has no retry (neither Dagster's
`auto_retry_run_id` tag nor a child run), and the retry daemon's cursor is already at or past its
failure event. For each one it moves that cursor back to just before the event. At its next pass
the retry daemon reads the event again, now with the run's record complete, and launches the
retry. Its own guards make a second read safe: a run already retried, or one that will not be,
is left alone (`dagster._daemon.auto_run_reexecution`).

This uses one private name of Dagster's, the cursor's key. `EventLogConsumerDaemon` stores it in
the run storage, under `EVENT_LOG_CONSUMER_CURSOR-<event type>`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
from dagster._core.event_api import RunStatusChangeRecordsFilter
from dagster._core.storage.tags import AUTO_RETRY_RUN_ID_TAG, PARENT_RUN_ID_TAG, WILL_RETRY_TAG

FAILURE_CURSOR_KEY = f"EVENT_LOG_CONSUMER_CURSOR-{dg.DagsterEventType.RUN_FAILURE.value}"
# The retry daemon passes every 5 s: a failure older than this that it has read and not retried
# was missed, not merely not reached yet.
GRACE_SECONDS = 20
# Failures older than this are an operator's matter (docs/operations.md): never re-armed.
LOOKBACK = timedelta(days=1)


def rearm_missed_retries(instance: dg.DagsterInstance, now: datetime | None = None) -> list[str]:
    """Move the retry daemon's cursor back before every missed retry (see the module); returns
    the ids of the runs it re-armed."""
    now = now or datetime.now(UTC)
    raw = instance.daemon_cursor_storage.get_cursor_values({FAILURE_CURSOR_KEY}).get(FAILURE_CURSOR_KEY)
    if raw is None:
        return []  # the retry daemon has not begun: it will read every failure still to come
    cursor = int(raw)
    rewound, rearmed = cursor, []
    for record in _missed(instance, now):
        event_id = failure_event_id(instance, record)
        if event_id is not None and event_id <= cursor:
            rewound = min(rewound, event_id - 1)
            rearmed.append(record.dagster_run.run_id)
    if rewound < cursor:
        instance.daemon_cursor_storage.set_cursor_values({FAILURE_CURSOR_KEY: str(rewound)})
    return rearmed


def _missed(instance: dg.DagsterInstance, now: datetime) -> list[dg.RunRecord]:
    """Runs that ended FAILURE more than GRACE_SECONDS ago, tagged to be retried, not retried."""
    records = instance.get_run_records(filters=dg.RunsFilter(
        statuses=[dg.DagsterRunStatus.FAILURE], tags={WILL_RETRY_TAG: "true"}, updated_after=now - LOOKBACK))
    missed = []
    for record in records:
        run = record.dagster_run
        ended = record.end_time
        if ended is None or now.timestamp() - ended < GRACE_SECONDS or AUTO_RETRY_RUN_ID_TAG in run.tags:
            continue
        if instance.get_run_ids(filters=dg.RunsFilter(tags={PARENT_RUN_ID_TAG: run.run_id}), limit=1):
            continue  # retried (or re-executed by hand): nothing to re-arm
        missed.append(record)
    return missed


def failure_event_id(instance: dg.DagsterInstance, record: dg.RunRecord) -> int | None:
    """The storage id of the failed run's RUN_FAILURE event among the run-status events, as the
    retry daemon reads them (on SQLite, the index shard's id, not the run shard's)."""
    ended = record.end_time
    if ended is None:
        return None
    found = instance.fetch_run_status_changes(
        RunStatusChangeRecordsFilter(dg.DagsterEventType.RUN_FAILURE, after_timestamp=ended - 60,
                                     before_timestamp=ended + 60), limit=1000)
    ids = [r.storage_id for r in found.records if r.event_log_entry.run_id == record.dagster_run.run_id]
    return min(ids) if ids else None
