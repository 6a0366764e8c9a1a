"""The running forecast of `esg_ratings` (domain/forecast.py), reported where people and the
sensors look while the run is calling the ESG API:

- Dagster: an `AssetObservation` of `esg_ratings` for the partition, with numeric metadata.
  Observations are Dagster's own record of "what was seen of an asset during a run": the UI
  shows them on the run's timeline and on the asset's page (and plots numeric metadata), and
  the sensors read the latest one per partition from the event log, however the run was
  launched. A plain log line would carry no structured figures a sensor could query.
- the JSON log: a `ratings_forecast` event;
- Prometheus: `esg_ratings_progress.prom` next to the daily metrics (a separate textfile, so
  the daily figures and the live ones are replaced independently).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from prometheus_client import CollectorRegistry, Gauge, generate_latest

from esg_assets.domain.forecast import Forecast, ReportSchedule, at_risk, project, window_end
from esg_assets.observability import JobLog, write_textfile

PROGRESS_METRICS_FILE = "esg_ratings_progress.prom"
FORECAST_EVENT = "ratings_forecast"


def progress_text(partition: str, forecast: Forecast, run_start: datetime) -> str:
    """The live forecast in Prometheus text exposition format (prometheus_client's)."""
    registry = CollectorRegistry()
    gauges = [
        ("esg_ratings_progress_accounts_done", "Accounts called so far by the running esg_ratings.", forecast.done),
        ("esg_ratings_progress_accounts_left", "Accounts still to call.", forecast.left),
        ("esg_ratings_progress_rate_per_second", "Measured calls per second (configured limit before any).",
         round(forecast.rate_per_second, 3)),
        ("esg_ratings_progress_projected_end_timestamp_seconds", "Projected end of the calls, Unix time.",
         forecast.projected_end.timestamp()),
        ("esg_ratings_progress_window_end_timestamp_seconds", "End of the run's 4-hour window, Unix time.",
         window_end(run_start).timestamp()),
        ("esg_ratings_progress_window_at_risk", "1 when the projected end passes the window's end.",
         int(at_risk(forecast.projected_end, run_start))),
    ]
    for name, help_text, value in gauges:
        Gauge(name, help_text, ["partition"], registry=registry).labels(partition).set(value)
    return generate_latest(registry).decode("utf-8")


class ProgressReporter:
    """Called with the number of results received, as often as the fetch loop likes; reports
    when the schedule says (at the latest every REPORT_EVERY_SECONDS), the first time and at
    the end."""

    def __init__(self, context: dg.AssetExecutionContext, log: JobLog, metrics_dir: Path, *, to_call: int,
                 configured_rate: float, run_start: datetime, schedule: ReportSchedule | None = None) -> None:
        self._context, self._log, self._metrics_dir = context, log, metrics_dir
        self._to_call, self._rate, self._run_start = to_call, configured_rate, run_start
        self._schedule = schedule or ReportSchedule()
        self._started = time.monotonic()

    def __call__(self, done: int, final: bool = False) -> None:
        now = time.monotonic()
        if not self._schedule.due(now) and not final:
            return
        forecast = project(done, max(self._to_call - done, 0), now - self._started, self._rate, datetime.now(UTC))
        figures = {**forecast.metadata(), "window_end": window_end(self._run_start).isoformat(),
                   "window_at_risk": at_risk(forecast.projected_end, self._run_start)}
        self._context.log_event(dg.AssetObservation(
            asset_key=self._context.asset_key, partition=self._context.partition_key,
            metadata={k: _metadata_value(v) for k, v in figures.items()},
        ))
        self._log.event(FORECAST_EVENT, **figures)
        self._write_metrics(forecast)

    def _write_metrics(self, forecast: Forecast) -> None:
        data = progress_text(self._context.partition_key, forecast, self._run_start).encode("utf-8")
        try:
            write_textfile(self._metrics_dir, PROGRESS_METRICS_FILE, data)
        except OSError as err:  # metrics must never fail the run
            self._context.log.warning(f"could not write the progress metrics: {err.strerror}")


def _metadata_value(value: object) -> dg.MetadataValue:
    if isinstance(value, bool):
        return dg.MetadataValue.bool(value)
    if isinstance(value, int):
        return dg.MetadataValue.int(value)
    if isinstance(value, float):
        return dg.MetadataValue.float(value)
    return dg.MetadataValue.text(str(value))
