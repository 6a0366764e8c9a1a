"""Which alerted days have recovered (docs/spec.md#alert-resolution), for the
`esg_resolution_alert` sensor (sensors.py), which delivers them through the ledger.

Driven by the ledger, not by a cursor over runs: a day is looked at for as long as it has an
alert sent and no resolution, so neither the order in which the sensors tick nor a daemon
restart can lose a resolution, and the ledger's (partition, `resolved`, channel) rows make it go
out at most once per channel. A day has recovered when its latest finished ESG run succeeded,
materialized all four assets (with the runs it re-executes), was not ended by the 09:00 window, and (when `failure_threshold`
was alerted) its 5 % check passed. One message resolves every kind alerted for the day: a day
still above 5 % is not resolved for its `run_failed` alone (one incident, one all-clear).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import dagster as dg

from esg_assets.alerts import Alert, AlertKind, AlertLedger
from esg_assets.alerts.model import RESOLVES
from esg_assets.names import ASSET_KEYS, CALL_FAILURE_CHECK_KEY
from esg_assets.run_records import PARTITION_TAG, end_facts, is_esg_run, run_details

# Days whose alerts are older than this are no longer resolved automatically.
RESOLUTION_LOOKBACK = timedelta(days=14)
_RUNS_LOOKED_AT = 20
S = dg.DagsterRunStatus
E = dg.DagsterEventType


def resolutions(instance: dg.DagsterInstance, ledger: AlertLedger, now: datetime) -> list[Alert]:
    """A `resolved` alert for every day with open alerts whose latest ESG run shows recovery."""
    alerts: list[Alert] = []
    for partition, kinds in sorted(ledger.open_alerts((now - RESOLUTION_LOOKBACK).timestamp()).items()):
        record = latest_finished_esg_run(instance, partition)
        if record is None or not recovered(instance, record, kinds):
            continue
        shown = ", ".join(sorted(kinds))
        alerts.append(Alert(AlertKind.RESOLVED, partition, shown, {RESOLVES: shown, **run_details(record)}))
    return alerts


def latest_finished_esg_run(instance: dg.DagsterInstance, partition: str) -> dg.RunRecord | None:
    records = instance.get_run_records(
        filters=dg.RunsFilter(tags={PARTITION_TAG: partition}, statuses=[S.SUCCESS, S.FAILURE, S.CANCELED]),
        order_by="update_timestamp", ascending=False, limit=_RUNS_LOOKED_AT,
    )
    return next((r for r in records if is_esg_run(r.dagster_run, instance)), None)


def materialized_by(instance: dg.DagsterInstance, run: dg.DagsterRun) -> set[dg.AssetKey]:
    """Assets materialized by `run` and the runs it re-executes (an automatic retry runs only
    the steps that had not finished: its parents materialized the others)."""
    keys: set[dg.AssetKey] = set()
    current: dg.DagsterRun | None = run
    while current is not None:
        keys |= {e.dagster_event.asset_key for e in instance.all_logs(current.run_id, of_type=E.ASSET_MATERIALIZATION)
                 if e.dagster_event is not None}
        current = instance.get_run_by_id(current.parent_run_id) if current.parent_run_id else None
    return keys


def recovered(instance: dg.DagsterInstance, record: dg.RunRecord, kinds: set[str]) -> bool:
    run_id = record.dagster_run.run_id
    if record.dagster_run.status != S.SUCCESS or end_facts(instance, run_id)["window"]:
        return False
    if not ASSET_KEYS <= materialized_by(instance, record.dagster_run):
        return False
    if AlertKind.FAILURE_THRESHOLD.value in kinds:
        evaluations = [
            e.dagster_event.event_specific_data for e in instance.all_logs(run_id, of_type=E.ASSET_CHECK_EVALUATION)
            if e.dagster_event is not None and e.dagster_event.event_specific_data.asset_check_key == CALL_FAILURE_CHECK_KEY
        ]
        return bool(evaluations) and evaluations[-1].passed
    return True
