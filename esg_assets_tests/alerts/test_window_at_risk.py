"""`window_at_risk` (contract 1.1) against a real Dagster instance holding a run record started
at a chosen instant and the forecast observations a running esg_ratings reports, delivering
to the loopback SMTP and PagerDuty fixtures: sent (severity warning) when the projected end
passes the start + 4 h, not before; once per partition, also with a fresh ledger object and no
cursor (a restarted daemon); a finished run is never at risk. The real daemon doing it on a
run that cannot finish: test_daemon_window_at_risk.py. The forecast arithmetic: domain tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.events import AssetObservationData
from dagster._core.utils import make_new_run_id

from esg_assets.alerts import AlertLedger, build_channels
from esg_assets.domain.forecast import project
from esg_assets.sensors_forecast import evaluate_window_at_risk
from esg_assets_tests.support.alerting import FAST

pytestmark = pytest.mark.integration
E = dg.DagsterEventType
START = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)  # 05:00 Chicago


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test(temp_dir=str(tmp_path)) as inst:
        yield inst


def store(instance: dg.DagsterInstance, run: dg.DagsterRun, at: datetime, dagster_event: dg.DagsterEvent) -> None:
    instance.handle_new_event(dg.EventLogEntry(error_info=None, level=logging.DEBUG, user_message="", run_id=run.run_id,
                                               timestamp=at.timestamp(), dagster_event=dagster_event))


def started_run(instance: dg.DagsterInstance, partition: str) -> dg.DagsterRun:
    run = instance.add_run(dg.DagsterRun(job_name="esg_daily_job", run_id=make_new_run_id(),
                                         tags={"dagster/partition": partition}, status=dg.DagsterRunStatus.NOT_STARTED))
    store(instance, run, START, dg.DagsterEvent(event_type_value=E.RUN_START.value, job_name=run.job_name))
    return run


def report(instance: dg.DagsterInstance, run: dg.DagsterRun, partition: str, done: int, left: int, elapsed: float) -> None:
    """What esg_assets.progress records: an observation of esg_ratings with the forecast."""
    at = START + timedelta(seconds=elapsed)
    forecast = project(done, left, elapsed, 50.0, at)
    observation = dg.AssetObservation(asset_key="esg_ratings", partition=partition, metadata=forecast.metadata())
    store(instance, run, at, dg.DagsterEvent(event_type_value=E.ASSET_OBSERVATION.value, job_name=run.job_name,
                                             event_specific_data=AssetObservationData(observation)))


def evaluate(instance: dg.DagsterInstance, ledger_path: Path, settings, cursor: str | None = None):
    return evaluate_window_at_risk(instance, START + timedelta(minutes=30), AlertLedger(ledger_path),
                                   build_channels(settings), cursor=cursor, policy=FAST)


def test_sent_once_when_the_projection_passes_the_window(instance, settings, ledger_path, smtp_server,
                                                         pagerduty) -> None:
    run = started_run(instance, "2026-11-27")
    report(instance, run, "2026-11-27", done=1000, left=99_000, elapsed=600)  # 1.67/s: ~16.5 h left
    first = evaluate(instance, ledger_path, settings)
    [alert] = first.alerts
    assert (alert.kind.value, alert.partition) == ("window_at_risk", "2026-11-27")
    assert alert.details["calls_left"] == 99_000 and alert.details["window_end"] == "2026-11-27T15:00:00Z"
    assert "99000 calls left" in alert.summary and "projected to end at 2026-11-28T03:" in alert.summary
    [event] = pagerduty.events
    assert event["payload"]["severity"] == "warning" and event["dedup_key"] == "esg-ratings/2026-11-27/window_at_risk"
    assert smtp_server.sink.messages[0].message["Subject"].startswith("[ESG Ratings] window_at_risk 2026-11-27: run ")
    again = evaluate(instance, ledger_path, settings, cursor=first.cursor)
    restarted = evaluate(instance, ledger_path, settings)
    assert again.report.sent == [] and restarted.report.sent == []
    assert len(pagerduty.events) == 1 and len(smtp_server.sink.messages) == 1


def test_not_sent_while_the_projection_fits(instance, settings, ledger_path, pagerduty) -> None:
    run = started_run(instance, "2026-11-27")
    report(instance, run, "2026-11-27", done=30_000, left=70_000, elapsed=600)  # 50/s: 23 min left
    assert evaluate(instance, ledger_path, settings).alerts == []
    assert pagerduty.events == []


def test_a_finished_run_is_not_at_risk(instance, settings, ledger_path, pagerduty) -> None:
    run = started_run(instance, "2026-11-27")
    report(instance, run, "2026-11-27", done=10, left=99_990, elapsed=600)
    store(instance, run, START + timedelta(minutes=11),
          dg.DagsterEvent(event_type_value=E.RUN_SUCCESS.value, job_name=run.job_name))
    assert evaluate(instance, ledger_path, settings).alerts == []
