"""Operations alerts (docs/spec.md#alerts), raised by sensors that the daemon evaluates.

The sensors read run records and event logs from `context.instance` themselves instead of being
run-status sensors: that way they see every run of the ESG assets however it was launched
(schedule, UI, backfill, or `dagster asset materialize`, which has no code-location origin) and
their first tick does not skip runs that ended before it. Each sensor is a thin shell around a
pure `evaluate_*(instance, now, ledger, channels, ...)` so tests choose the clock.
Reading runs (which are ESG runs, their partition, why they ended) lives in
`esg_assets.run_records`; delivery and "at most once per (partition, kind, channel)" in
`esg_assets.alerts`.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
from sqlalchemy.exc import SQLAlchemyError

from esg_assets.alerts import Alert, AlertKind, AlertLedger, Channel, RetryPolicy, build_channels
from esg_assets.alerts import DispatchReport, dispatch
from esg_assets.alerts.pg_ledger import open_ledger
from esg_assets.jobs import STATE_DB_POOL
from esg_assets.names import CALL_FAILURE_CHECK, CALL_FAILURE_CHECK_KEY, ESG_RATINGS, WINDOW_MARKER
from esg_assets.partitions import TIMEZONE, chicago_day
from esg_assets.resolution import resolutions
from esg_assets.retry_watch import rearm_missed_retries
from esg_assets.run_records import PARTITION_TAG, end_facts, finished_runs, iso
from esg_assets.run_records import alert_partition, is_esg_or_retention_run, is_esg_run, partition_of, retry_outlook
from esg_assets.run_records import run_details
from esg_assets.settings import ConfigError, load_alerts

TZ = ZoneInfo(TIMEZONE)
START_DEADLINE = time(5, 15)
WINDOW_DEADLINE = time(9, 0)
MIN_INTERVAL_SECONDS = 30
S = dg.DagsterRunStatus
UNFINISHED = [S.QUEUED, S.NOT_STARTED, S.STARTING, S.STARTED, S.CANCELING]
E = dg.DagsterEventType


@dataclass
class Evaluation:
    """What one evaluation found and did; `cursor` is the sensor's next cursor."""

    alerts: list[Alert] = field(default_factory=list)
    report: DispatchReport = field(default_factory=DispatchReport)
    cursor: str | None = None


def local_deadline(now: datetime, at: time) -> tuple[str, datetime]:
    """Today's partition key in Chicago and today's `at` (Chicago) as an aware datetime."""
    today = chicago_day(now)
    return today.isoformat(), datetime.combine(today, at, tzinfo=TZ)


# --- the four evaluations -------------------------------------------------------------------


def evaluate_run_failed(instance: dg.DagsterInstance, now: datetime, ledger: AlertLedger,
                        channels: Sequence[Channel], *, cursor: str | None = None, **kw) -> Evaluation:
    """`run_failed`: an ESG run that ended FAILURE, unless the 4-hour window ended it (that one
    is `window_exceeded` only: one page per cause); also a failed `retention_job` run, named
    `retention-YYYY-MM-DD` (files past their retention are a compliance matter)."""
    records, new_cursor = finished_runs(instance, [S.FAILURE], cursor, now, include=is_esg_or_retention_run)
    alerts = []
    for record in records:
        facts = end_facts(instance, record.dagster_run.run_id)
        if facts.pop("window"):
            continue
        run, partition = record.dagster_run, alert_partition(record)
        where = f"in step(s) {facts['failed_steps']}" if facts["failed_steps"] else "before any step failed"
        outlook = retry_outlook(instance, run)
        alerts.append(Alert(AlertKind.RUN_FAILED, partition,
                            f"run {run.run_id[:8]} of {partition} failed {where}; {outlook}",
                            {**run_details(record), **facts, "retry": outlook},
                            component=(facts["failed_steps"] or run.job_name).split(",")[0]))
    return _finish(alerts, ledger, channels, new_cursor, **kw)


def evaluate_window_exceeded(instance: dg.DagsterInstance, now: datetime, ledger: AlertLedger,
                             channels: Sequence[Channel], *, cursor: str | None = None, **kw) -> Evaluation:
    """`window_exceeded`: from 09:00 Chicago, end every unfinished ESG run of today's partition
    that began before 09:00 (a rerun launched later is not this window's), and report any ESG
    run that run monitoring ended for exceeding its maximum runtime."""
    alerts: list[Alert] = []
    partition, deadline = local_deadline(now, WINDOW_DEADLINE)
    if now >= deadline:
        for record in instance.get_run_records(
            filters=dg.RunsFilter(statuses=UNFINISHED, tags={PARTITION_TAG: partition})
        ):
            began = record.start_time or record.create_timestamp.timestamp()
            if not is_esg_run(record.dagster_run, instance) or began >= deadline.timestamp():
                continue
            action = _terminate(instance, record.dagster_run, kw.get("log"))
            alerts.append(Alert(
                AlertKind.WINDOW_EXCEEDED, partition,
                f"run {record.dagster_run.run_id[:8]} of {partition} not finished at 09:00 America/Chicago: {action}",
                {**run_details(record), "deadline": deadline.isoformat(), "action": action}))
    # SUCCESS too: run monitoring cannot stop a run no launcher reaches (`dagster asset
    # materialize`); it marks it FAILURE, the process runs on and the run ends SUCCESS later.
    records, new_cursor = finished_runs(instance, [S.FAILURE, S.CANCELED, S.SUCCESS], cursor, now)
    for record in records:
        window = end_facts(instance, record.dagster_run.run_id)["window"]
        if window:
            p = partition_of(record.dagster_run)
            alerts.append(Alert(AlertKind.WINDOW_EXCEEDED, p,
                                f"run {record.dagster_run.run_id[:8]} of {p} ended: exceeded its run window",
                                {**run_details(record), "reason": window[:300]}))
    return _finish(alerts, ledger, channels, new_cursor, **kw)


def _terminate(instance: dg.DagsterInstance, run: dg.DagsterRun, log: object) -> str:
    """End a run the way the UI's Terminate does (the run coordinator: de-queue, or ask the run
    launcher to stop the process). A run no launcher can reach (e.g. a CLI run) is marked
    failed, as Dagster's own run monitoring does."""
    if run.status == S.CANCELING:
        return "termination already in progress"
    instance.report_engine_event(f"{WINDOW_MARKER}: terminating the run.", dagster_run=run)
    try:
        if instance.run_coordinator.cancel_run(run.run_id):
            return "terminated"
    except Exception as err:  # e.g. a launcher that cannot terminate
        if log is not None:
            log.warning(f"could not terminate run {run.run_id}: {type(err).__name__}: {err}")
    fresh = instance.get_run_by_id(run.run_id)
    if fresh is not None and not fresh.is_finished:
        instance.report_run_failed(fresh, message=f"{WINDOW_MARKER}: the run could not be terminated and is "
                                   "marked failed; its process may still be running.")
    return "could not be terminated, marked failed (check for a leftover process)"


def evaluate_missed_start(instance: dg.DagsterInstance, now: datetime, ledger: AlertLedger,
                          channels: Sequence[Channel], *, cursor: str | None = None, **kw) -> Evaluation:
    """`missed_start`: from 05:15 Chicago, no ESG run of today's partition started by 05:15."""
    partition, deadline = local_deadline(now, START_DEADLINE)
    alerts: list[Alert] = []
    settled = ledger.is_settled(partition, AlertKind.MISSED_START, [c.name for c in channels])
    if now >= deadline and not settled:
        runs = [r for r in instance.get_run_records(filters=dg.RunsFilter(tags={PARTITION_TAG: partition}))
                if is_esg_run(r.dagster_run, instance)]
        if not any(r.start_time is not None and r.start_time <= deadline.timestamp() for r in runs):
            late = min((r.start_time for r in runs if r.start_time), default=None)
            alerts.append(Alert(
                AlertKind.MISSED_START, partition,
                f"no run of {partition} started by 05:15 America/Chicago",
                {"deadline": deadline.isoformat(), "runs_of_partition": len(runs),
                 "statuses": ",".join(sorted({r.dagster_run.status.value for r in runs})) or None,
                 "first_late_start_at": iso(late)}))
    return _finish(alerts, ledger, channels, cursor, **kw)


def evaluate_failure_threshold(instance: dg.DagsterInstance, now: datetime, ledger: AlertLedger,
                               channels: Sequence[Channel], *, cursor: str | None = None, **kw) -> Evaluation:
    """`failure_threshold`: a failed evaluation of the 5 % check in a finished ESG run. The check
    is non-blocking (the run stays SUCCESS) and its record changes in place, so we read each
    finished run's evaluation events instead of a record-id cursor."""
    records, new_cursor = finished_runs(instance, [S.SUCCESS, S.FAILURE, S.CANCELED], cursor, now)
    alerts = []
    for record in records:
        for entry in instance.all_logs(record.dagster_run.run_id, of_type=E.ASSET_CHECK_EVALUATION):
            ev = entry.dagster_event.event_specific_data if entry.dagster_event else None
            if ev is None or ev.asset_check_key != CALL_FAILURE_CHECK_KEY or ev.passed:
                continue
            partition = ev.partition or partition_of(record.dagster_run)
            figures = {k: getattr(v, "value", v) for k, v in ev.metadata.items()
                       if k in ("call_failure_rate", "failed", "accounts_called", "threshold")}
            rate = figures.get("call_failure_rate")
            shown = f"{float(rate):.2%}" if isinstance(rate, int | float) else "unknown"
            alerts.append(Alert(AlertKind.FAILURE_THRESHOLD, partition,
                                f"call failure rate {shown} of {partition} is above 5 %",
                                {**figures, "check": CALL_FAILURE_CHECK, "run_id": record.dagster_run.run_id},
                                component=ESG_RATINGS))
    return _finish(alerts, ledger, channels, new_cursor, **kw)


def evaluate_resolution(instance: dg.DagsterInstance, now: datetime, ledger: AlertLedger,
                        channels: Sequence[Channel], *, cursor: str | None = None, **kw) -> Evaluation:
    """`resolved`: a day with alerts sent whose latest run completed it with the condition gone
    gets one PagerDuty resolve per kind and one "resolved" e-mail (docs/spec.md#alert-resolution)."""
    return _finish(resolutions(instance, ledger, now), ledger, channels, cursor, **kw)


def _finish(alerts: list[Alert], ledger: AlertLedger, channels: Sequence[Channel], cursor: str | None,
            *, policy: RetryPolicy | None = None, log: object = None) -> Evaluation:
    # Dispatch even with no new alerts: it retries what earlier ticks left pending.
    report = dispatch(alerts, ledger, channels, policy=policy, log=log)  # type: ignore[arg-type]
    return Evaluation(alerts=alerts, report=report, cursor=cursor)


# --- the sensors ----------------------------------------------------------------------------

Evaluator = Callable[..., Evaluation]


def _verify() -> str | bool:
    bundle = (os.environ.get("ESG_CA_BUNDLE") or "").strip()
    if bundle and not Path(bundle).is_file():
        raise ConfigError(f"ESG_CA_BUNDLE names {bundle!r}, which is not a readable file")
    return bundle or True


def store_state_db_pool_limit(instance: dg.DagsterInstance, log: object) -> None:
    """Store the `esg_state_db` pool's one slot if nobody has (docs/operations.md asks for it at
    install): the run queue applies dagster.yaml's `default_limit` only from its second pass over
    a pool, so two runs queued before then would both start. A limit already set is left alone."""
    storage = instance.event_log_storage
    try:
        if storage.supports_global_concurrency_limits and STATE_DB_POOL not in storage.get_concurrency_keys():
            storage.set_concurrency_slots(STATE_DB_POOL, 1)
    except Exception as err:  # never let this take an alert tick down
        log.warning(f"could not store the {STATE_DB_POOL} pool limit: {type(err).__name__}: {err}")  # type: ignore[attr-defined]


def rearm_retries(instance: dg.DagsterInstance, log: object) -> None:
    """Re-arm the automatic retries Dagster decided on and missed (esg_assets/retry_watch.py)."""
    try:
        for run_id in rearm_missed_retries(instance):
            log.warning(f"run {run_id[:8]} was to be retried automatically and was not (Dagster's retry "  # type: ignore[attr-defined]
                        "daemon read its failure before the run was tagged): its retry is re-armed")
    except Exception as err:  # never let this take an alert tick down
        log.warning(f"could not re-arm missed retries: {type(err).__name__}: {err}")  # type: ignore[attr-defined]


def alert_sensor(name: str, evaluate: Evaluator,
                 before: Callable[[dg.DagsterInstance, object], None] | None = None) -> dg.SensorDefinition:
    """A daemon sensor around `evaluate`, with the real clock, ledger and channels; `before`
    runs first on every tick (housekeeping that must not wait for alerts to be configured)."""

    @dg.sensor(name=name, minimum_interval_seconds=MIN_INTERVAL_SECONDS,
               default_status=dg.DefaultSensorStatus.RUNNING, description=evaluate.__doc__)
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        store_state_db_pool_limit(context.instance, context.log)
        if before is not None:
            before(context.instance, context.log)
        try:
            channels = build_channels(load_alerts(), verify=_verify())
            ledger = open_ledger(context.instance)  # PostgreSQL when the instance is (docs/scaling.md)
        except (ConfigError, OSError, sqlite3.Error, SQLAlchemyError) as err:
            # One line, then skip: a configuration error must never take the daemon down.
            context.log.error(f"{name}: alerts not configured: {err}")
            return dg.SensorResult(skip_reason=dg.SkipReason(f"alerts not configured: {err}"))
        result = evaluate(context.instance, datetime.now(UTC), ledger, channels,
                          cursor=context.cursor, log=context.log)
        return dg.SensorResult(cursor=result.cursor, skip_reason=dg.SkipReason(result.report.describe()))

    return _sensor


run_failed_sensor = alert_sensor("esg_run_failed_alert", evaluate_run_failed, before=rearm_retries)
window_exceeded_sensor = alert_sensor("esg_window_exceeded_alert", evaluate_window_exceeded)
missed_start_sensor = alert_sensor("esg_missed_start_alert", evaluate_missed_start)
failure_threshold_sensor = alert_sensor("esg_failure_threshold_alert", evaluate_failure_threshold)
resolution_sensor = alert_sensor("esg_resolution_alert", evaluate_resolution)

ALL_SENSORS = [run_failed_sensor, window_exceeded_sensor, missed_start_sensor, failure_threshold_sensor,
               resolution_sensor]
