"""Operations alerts (output-and-behaviour.md §8), raised by sensors that the daemon evaluates.

The sensors read run records and event logs from `context.instance` themselves instead of being
run-status sensors: that way they see every run of the ESG assets however it was launched
(schedule, UI, backfill, or `dagster asset materialize`, which has no code-location origin) and
their first tick does not skip runs that ended before it. Each sensor is a thin shell around a
pure `evaluate_*(instance, now, ledger, channels, ...)` so tests choose the clock.
Delivery and "at most once per (partition, kind, channel)" live in `esg_assets.alerts`.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg

from esg_assets.alerts import Alert, AlertKind, AlertLedger, Channel, RetryPolicy, build_channels
from esg_assets.alerts import DispatchReport, default_ledger_path, dispatch
from esg_assets.checks import CALL_FAILURE_CHECK
from esg_assets.jobs import DAILY_JOB_NAME
from esg_assets.partitions import TIMEZONE
from esg_assets.settings import ConfigError, load_alerts

ESG_ASSET_KEYS = frozenset(
    dg.AssetKey(n) for n in ("active_accounts", "esg_ratings", "ratings_csv", "daily_summary")
)
CHECK_KEY = dg.AssetCheckKey(dg.AssetKey("esg_ratings"), CALL_FAILURE_CHECK)
ESG_STEP_KEYS = frozenset({k.path[-1] for k in ESG_ASSET_KEYS} | {f"esg_ratings_{CALL_FAILURE_CHECK}"})
TZ = ZoneInfo(TIMEZONE)
START_DEADLINE = time(5, 15)
WINDOW_DEADLINE = time(9, 0)
# Written on a run we end at 09:00; "maximum runtime" is what run monitoring writes (1.13).
WINDOW_MARKER = "ESG 09:00 America/Chicago window exceeded"
WINDOW_PHRASES = (WINDOW_MARKER, "maximum runtime")
PARTITION_TAG = "dagster/partition"
RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
LOOKBACK = timedelta(hours=24)  # how far back a sensor without a cursor looks
OVERLAP = timedelta(minutes=2)  # re-read a little behind the cursor; the ledger absorbs repeats
BATCH = 200
MIN_INTERVAL_SECONDS = 30
S = dg.DagsterRunStatus
UNFINISHED = [S.QUEUED, S.NOT_STARTED, S.STARTING, S.STARTED, S.CANCELING]
E = dg.DagsterEventType
_END_EVENTS = {E.RUN_FAILURE, E.RUN_CANCELING, E.ENGINE_EVENT, E.STEP_FAILURE}


@dataclass
class Evaluation:
    """What one evaluation found and did; `cursor` is the sensor's next cursor."""

    alerts: list[Alert] = field(default_factory=list)
    report: DispatchReport = field(default_factory=DispatchReport)
    cursor: str | None = None


# --- reading runs ---------------------------------------------------------------------------


def is_esg_run(run: dg.DagsterRun, instance: dg.DagsterInstance | None = None) -> bool:
    """The daily job, or any run materializing (or checking) one of the four ESG assets."""
    if run.job_name == DAILY_JOB_NAME:
        return True
    if run.asset_selection and run.asset_selection & ESG_ASSET_KEYS:
        return True
    if run.asset_check_selection and CHECK_KEY in run.asset_check_selection:
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


def partition_of(run: dg.DagsterRun) -> str:
    """The run's partition; a single-run range backfill is named `start...end`."""
    if run.tags.get(PARTITION_TAG):
        return run.tags[PARTITION_TAG]
    start, end = (run.tags.get(t) for t in RANGE_TAGS)
    return f"{start}...{end}" if start and end else "unpartitioned"


def local_deadline(now: datetime, at: time) -> tuple[str, datetime]:
    """Today's partition key in Chicago and today's `at` (Chicago) as an aware datetime."""
    today = now.astimezone(TZ).date()
    return today.isoformat(), datetime.combine(today, at, tzinfo=TZ)


def _finished_runs(
    instance: dg.DagsterInstance, statuses: list[dg.DagsterRunStatus], cursor: str | None, now: datetime
) -> tuple[list[dg.RunRecord], str]:
    """ESG runs in `statuses` updated since the cursor (a UTC timestamp), oldest update first."""
    since = datetime.fromtimestamp(float(cursor), UTC) if cursor else now - LOOKBACK
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=statuses, updated_after=since - OVERLAP),
        order_by="update_timestamp", ascending=True, limit=BATCH,
    )
    latest = max([since] + [r.update_timestamp.replace(tzinfo=r.update_timestamp.tzinfo or UTC) for r in records])
    return [r for r in records if is_esg_run(r.dagster_run, instance)], str(latest.timestamp())


def _end_facts(instance: dg.DagsterInstance, run_id: str) -> dict[str, str | None]:
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


def _launched_by(run: dg.DagsterRun) -> str:
    for tag, label in (("dagster/schedule_name", "schedule"), ("dagster/backfill", "backfill"),
                       ("dagster/sensor_name", "sensor")):
        if run.tags.get(tag):
            return f"{label} {run.tags[tag]}"
    return "manual (UI or command line)"


def _run_details(record: dg.RunRecord) -> dict:
    run = record.dagster_run
    return {"run_id": run.run_id, "job_name": run.job_name, "status": run.status.value,
            "launched_by": _launched_by(run),
            "started_at": _iso(record.start_time), "ended_at": _iso(record.end_time)}


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if ts else None


# --- the four evaluations -------------------------------------------------------------------


def evaluate_run_failed(instance: dg.DagsterInstance, now: datetime, ledger: AlertLedger,
                        channels: Sequence[Channel], *, cursor: str | None = None, **kw) -> Evaluation:
    """`run_failed`: an ESG run that ended FAILURE, unless the 4-hour window ended it (that one
    is `window_exceeded` only: one page per cause)."""
    records, new_cursor = _finished_runs(instance, [S.FAILURE], cursor, now)
    alerts = []
    for record in records:
        facts = _end_facts(instance, record.dagster_run.run_id)
        if facts.pop("window"):
            continue
        run, partition = record.dagster_run, partition_of(record.dagster_run)
        where = f"step(s) {facts['failed_steps']}" if facts["failed_steps"] else "before any step failed"
        alerts.append(Alert(AlertKind.RUN_FAILED, partition, f"run {run.run_id[:8]} of {partition} failed in {where}",
                            {**_run_details(record), **facts},
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
                {**_run_details(record), "deadline": deadline.isoformat(), "action": action}))
    records, new_cursor = _finished_runs(instance, [S.FAILURE, S.CANCELED], cursor, now)
    for record in records:
        window = _end_facts(instance, record.dagster_run.run_id)["window"]
        if window:
            p = partition_of(record.dagster_run)
            alerts.append(Alert(AlertKind.WINDOW_EXCEEDED, p,
                                f"run {record.dagster_run.run_id[:8]} of {p} ended: exceeded its run window",
                                {**_run_details(record), "reason": window[:300]}))
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
                 "first_late_start_at": _iso(late)}))
    return _finish(alerts, ledger, channels, cursor, **kw)


def evaluate_failure_threshold(instance: dg.DagsterInstance, now: datetime, ledger: AlertLedger,
                               channels: Sequence[Channel], *, cursor: str | None = None, **kw) -> Evaluation:
    """`failure_threshold`: a failed evaluation of the 5 % check in a finished ESG run. The check
    is non-blocking (the run stays SUCCESS) and its record changes in place, so we read each
    finished run's evaluation events instead of a record-id cursor."""
    records, new_cursor = _finished_runs(instance, [S.SUCCESS, S.FAILURE, S.CANCELED], cursor, now)
    alerts = []
    for record in records:
        for entry in instance.all_logs(record.dagster_run.run_id, of_type=E.ASSET_CHECK_EVALUATION):
            ev = entry.dagster_event.event_specific_data if entry.dagster_event else None
            if ev is None or ev.asset_check_key != CHECK_KEY or ev.passed:
                continue
            partition = ev.partition or partition_of(record.dagster_run)
            figures = {k: getattr(v, "value", v) for k, v in ev.metadata.items()
                       if k in ("call_failure_rate", "failed", "accounts_called", "threshold")}
            rate = figures.get("call_failure_rate")
            shown = f"{float(rate):.2%}" if isinstance(rate, int | float) else "unknown"
            alerts.append(Alert(AlertKind.FAILURE_THRESHOLD, partition,
                                f"call failure rate {shown} of {partition} is above 5 %",
                                {**figures, "check": CALL_FAILURE_CHECK, "run_id": record.dagster_run.run_id},
                                component="esg_ratings"))
    return _finish(alerts, ledger, channels, new_cursor, **kw)


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


def alert_sensor(name: str, evaluate: Evaluator) -> dg.SensorDefinition:
    """A daemon sensor around `evaluate`, with the real clock, ledger and channels."""

    @dg.sensor(name=name, minimum_interval_seconds=MIN_INTERVAL_SECONDS,
               default_status=dg.DefaultSensorStatus.RUNNING, description=evaluate.__doc__)
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        try:
            channels = build_channels(load_alerts(), verify=_verify())
            ledger = AlertLedger(default_ledger_path())
        except (ConfigError, OSError, sqlite3.Error) as err:
            # One line, then skip: a configuration error must never take the daemon down.
            context.log.error(f"{name}: alerts not configured: {err}")
            return dg.SensorResult(skip_reason=dg.SkipReason(f"alerts not configured: {err}"))
        result = evaluate(context.instance, datetime.now(UTC), ledger, channels,
                          cursor=context.cursor, log=context.log)
        return dg.SensorResult(cursor=result.cursor, skip_reason=dg.SkipReason(result.report.describe()))

    return _sensor


run_failed_sensor = alert_sensor("esg_run_failed_alert", evaluate_run_failed)
window_exceeded_sensor = alert_sensor("esg_window_exceeded_alert", evaluate_window_exceeded)
missed_start_sensor = alert_sensor("esg_missed_start_alert", evaluate_missed_start)
failure_threshold_sensor = alert_sensor("esg_failure_threshold_alert", evaluate_failure_threshold)

ALL_SENSORS = [run_failed_sensor, window_exceeded_sensor, missed_start_sensor, failure_threshold_sensor]
