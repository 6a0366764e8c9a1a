"""The `window_at_risk` alert (docs/spec.md#alerts), raised by its own
sensor from what a running `esg_ratings` reports (esg_assets/progress.py): the latest
forecast observation of each ESG run in progress. Like the other kinds it reads run records
and the event log itself, so it covers runs however launched, and the alert ledger sends a
(partition, window_at_risk) at most once per channel, also across daemon restarts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import dagster as dg

from esg_assets.clock import utc_text
from esg_assets.alerts import Alert, AlertKind, AlertLedger, Channel
from esg_assets.domain.forecast import at_risk, window_end
from esg_assets.names import ESG_RATINGS, RATINGS_KEY
from esg_assets.run_records import is_esg_run, partition_of, run_details
from esg_assets.sensors import Evaluation, _finish, alert_sensor


def latest_forecast(instance: dg.DagsterInstance, run_id: str, partition: str) -> dict[str, object] | None:
    """The newest forecast the run reported for the partition, as plain values (None if none)."""
    records = instance.fetch_observations(
        dg.AssetRecordsFilter(asset_key=RATINGS_KEY, asset_partitions=[partition]), limit=1
    ).records
    if not records or records[0].run_id != run_id or records[0].asset_observation is None:
        return None
    metadata = records[0].asset_observation.metadata
    if "projected_end_timestamp" not in metadata:
        return None
    return {k: getattr(v, "value", v) for k, v in metadata.items()}


def evaluate_window_at_risk(instance: dg.DagsterInstance, now: datetime, ledger: AlertLedger,
                            channels: Sequence[Channel], *, cursor: str | None = None, **kw) -> Evaluation:
    """`window_at_risk`: a running ESG run whose projected end passes its start + 4 h."""
    alerts: list[Alert] = []
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
        run = record.dagster_run
        if record.start_time is None or not is_esg_run(run, instance):
            continue
        partition = partition_of(run)
        forecast = latest_forecast(instance, run.run_id, partition)
        if forecast is None:
            continue
        start = datetime.fromtimestamp(record.start_time, UTC)
        projected = datetime.fromtimestamp(float(forecast["projected_end_timestamp"]), UTC)  # type: ignore[arg-type]
        if not at_risk(projected, start):
            continue
        left = int(forecast.get("accounts_left", 0))  # type: ignore[call-overload]
        alerts.append(Alert(
            AlertKind.WINDOW_AT_RISK, partition,
            f"run {run.run_id[:8]} of {partition} is projected to end at {utc_text(projected)}, "
            f"after its window ends at {utc_text(window_end(start))}: {left} calls left",
            {**run_details(record), "projected_end": utc_text(projected),
             "window_end": utc_text(window_end(start)), "calls_left": left,
             "calls_done": forecast.get("accounts_done"), "rate_per_second": forecast.get("rate_per_second"),
             "rate_measured": forecast.get("rate_measured"), "forecast_at": forecast.get("reported_at")},
            component=ESG_RATINGS))
    return _finish(alerts, ledger, channels, cursor, **kw)


window_at_risk_sensor = alert_sensor("esg_window_at_risk_alert", evaluate_window_at_risk)
