"""Reading ESG runs from the Dagster instance, for the alert sensors (esg_assets/sensors.py).

Which runs are "of the ESG assets" however they were launched, which partition a run is of, the
finished runs since a sensor's cursor, why a run ended (a window or run-monitoring message, the
failed steps, the first user error) and the run facts an alert carries. Read-only: nothing here
changes a run or sends anything.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import dagster as dg

from esg_assets.clock import utc_text
from esg_assets.jobs import DAILY_JOB_NAME, RETENTION_JOB_NAME
from esg_assets.names import ASSET_KEYS, ASSET_NAMES, CALL_FAILURE_CHECK_KEY, CHECK_NAMES, ESG_RATINGS, WINDOW_PHRASES
from esg_assets.partitions import chicago_day

# Dagster names an asset's step after the asset, and an asset check's after "<asset>_<check>".
ESG_STEP_KEYS = frozenset(ASSET_NAMES) | {f"{ESG_RATINGS}_{c}" for c in CHECK_NAMES}
PARTITION_TAG = "dagster/partition"
RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
LOOKBACK = timedelta(hours=24)  # how far back a sensor without a cursor looks
OVERLAP = timedelta(minutes=2)  # re-read a little behind the cursor; the ledger absorbs repeats
BATCH = 200
E = dg.DagsterEventType
_END_EVENTS = {E.RUN_FAILURE, E.RUN_CANCELING, E.ENGINE_EVENT, E.STEP_FAILURE}


def is_esg_run(run: dg.DagsterRun, instance: dg.DagsterInstance | None = None) -> bool:
    """The daily job, or any run materializing (or checking) one of the four ESG assets."""
    if run.job_name == DAILY_JOB_NAME:
        return True
    if run.asset_selection and run.asset_selection & ASSET_KEYS:
        return True
    if run.asset_check_selection and CALL_FAILURE_CHECK_KEY in run.asset_check_selection:
        return True
    if run.asset_selection or instance is None or not run.execution_plan_snapshot_id:
        return False
    # No explicit selection (a whole asset job, `dg.materialize`): look at the steps it ran,
    # which for assets are named after them.
    try:
        plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
    except Exception:  # a snapshot that cannot be read is not worth an alert of its own
        return False
    return bool(ESG_STEP_KEYS & set(plan.step_keys_to_execute or ()))


def is_retention_run(run: dg.DagsterRun, instance: dg.DagsterInstance | None = None) -> bool:
    return run.job_name == RETENTION_JOB_NAME


def is_esg_or_retention_run(run: dg.DagsterRun, instance: dg.DagsterInstance | None = None) -> bool:
    return is_retention_run(run) or is_esg_run(run, instance)


def alert_partition(record: dg.RunRecord) -> str:
    """What an alert about this run names as its partition: the run's own, or for the (not
    partitioned) retention job `retention-YYYY-MM-DD`, the Chicago day the run was created, so a
    failed retention is alerted once a day and never collides with that day's ESG alerts."""
    if is_retention_run(record.dagster_run):
        return f"retention-{chicago_day(record.create_timestamp).isoformat()}"
    return partition_of(record.dagster_run)


def partition_of(run: dg.DagsterRun) -> str:
    """The run's partition; a single-run range backfill is named `start...end`."""
    if run.tags.get(PARTITION_TAG):
        return run.tags[PARTITION_TAG]
    start, end = (run.tags.get(t) for t in RANGE_TAGS)
    return f"{start}...{end}" if start and end else "unpartitioned"


def finished_runs(
    instance: dg.DagsterInstance, statuses: list[dg.DagsterRunStatus], cursor: str | None, now: datetime,
    include: Callable[[dg.DagsterRun, dg.DagsterInstance], bool] = is_esg_run,
) -> tuple[list[dg.RunRecord], str]:
    """Runs in `statuses` that `include` accepts (ESG runs by default) updated since the cursor
    (a UTC timestamp), oldest update first."""
    since = datetime.fromtimestamp(float(cursor), UTC) if cursor else (now - LOOKBACK).astimezone(UTC)
    # In UTC: Dagster's run filters drop the tzinfo and compare with naive UTC update times.
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=statuses, updated_after=since - OVERLAP),
        order_by="update_timestamp", ascending=True, limit=BATCH,
    )
    latest = max([since] + [r.update_timestamp.replace(tzinfo=r.update_timestamp.tzinfo or UTC) for r in records])
    return [r for r in records if include(r.dagster_run, instance)], str(latest.timestamp())


def end_facts(instance: dg.DagsterInstance, run_id: str) -> dict[str, str | None]:
    """Why a run ended: window message (if any), failed steps, first error, run failure text."""
    window, steps, error, failure = None, [], None, None
    for entry in instance.all_logs(run_id, of_type=_END_EVENTS):
        event, text = entry.dagster_event, entry.message or ""
        if any(p in text for p in WINDOW_PHRASES):
            window = window or text
        if event and event.event_type == E.STEP_FAILURE:
            steps.append(event.step_key or "?")
            info = getattr(event.event_specific_data, "error", None)
            while info is not None and info.cause is not None:  # the user's error, not the wrapper
                info = info.cause
            if info is not None and error is None:
                error = " ".join((info.message or info.cls_name or "").split())[:300]  # "Cls: text"
        elif event and event.event_type == E.RUN_FAILURE:
            failure = text[:300]
    return {"window": window, "failed_steps": ",".join(sorted(set(steps))) or None,
            "error": error, "run_failure_message": failure}


def retry_outlook(instance: dg.DagsterInstance, run: dg.DagsterRun) -> str:
    """What happens after this failed run: "retrying automatically (attempt k of n)" when the
    daemon's run retries (dagster.yaml `run_retries`) will launch attempt k, else "final".

    Dagster decides with `auto_reexecution_should_retry_run` (its own rule, reused here so the
    alert can never disagree with it); a run without a code-location origin (`dagster asset
    materialize`) is never retried by the daemon."""
    from dagster._core.events import RunFailureReason
    from dagster._core.execution.retries import auto_reexecution_should_retry_run
    from dagster._core.storage.tags import MAX_RETRIES_TAG, RETRY_NUMBER_TAG, RUN_FAILURE_REASON_TAG, WILL_RETRY_TAG

    if not instance.run_retries_enabled or run.remote_job_origin is None:
        return "final"
    decided = run.tags.get(WILL_RETRY_TAG)
    if decided is None:
        reason = run.tags.get(RUN_FAILURE_REASON_TAG)
        will_retry = auto_reexecution_should_retry_run(instance, run, RunFailureReason(reason) if reason else None)
    else:
        will_retry = decided == "true"
    if not will_retry:
        return "final"
    attempt = int(run.tags.get(RETRY_NUMBER_TAG) or 0) + 1  # this run's; the retry is the next
    max_retries = int(run.tags.get(MAX_RETRIES_TAG) or instance.run_retries_max_retries)
    return f"retrying automatically (attempt {attempt + 1} of {max_retries + 1})"


def launched_by(run: dg.DagsterRun) -> str:
    for tag, label in (("dagster/schedule_name", "schedule"), ("dagster/backfill", "backfill"),
                       ("dagster/sensor_name", "sensor")):
        if run.tags.get(tag):
            return f"{label} {run.tags[tag]}"
    return "manual (UI or command line)"


def run_details(record: dg.RunRecord) -> dict:
    """The facts of a run that every run alert carries."""
    run = record.dagster_run
    return {"run_id": run.run_id, "job_name": run.job_name, "status": run.status.value,
            "launched_by": launched_by(run),
            "started_at": iso(record.start_time), "ended_at": iso(record.end_time)}


def iso(ts: float | None) -> str | None:
    """A run record's Unix time as UTC text; None when the run has none yet."""
    return utc_text(ts) if ts else None
