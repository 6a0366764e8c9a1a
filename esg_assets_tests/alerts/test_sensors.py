"""The four alert evaluations against a real Dagster instance holding real runs, delivering to the
loopback SMTP and PagerDuty fixtures: `run_failed` from a materialization that fails,
`failure_threshold` from a partitioned `esg_ratings` whose non-blocking 5 % check fails (the run
itself succeeds), `missed_start` and `window_exceeded` at chosen Chicago times with run records
started at chosen instants, and `window_exceeded` from run monitoring's events (the real daemon
doing it: test_daemon_e2e_run_monitoring.py). Evaluating again, or with a fresh ledger and no cursor (a restarted
daemon), sends nothing new. Finally each real sensor runs once through `build_sensor_context`."""


import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from dagster._core.remote_origin import InProcessCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from esg_assets import sensors as s
from esg_assets.jobs import STATE_DB_POOL
from esg_assets.alerts import AlertLedger, build_channels
from esg_assets_tests.support.alerting import FAST, PagerDutyStandIn, SmtpServer

pytestmark = pytest.mark.integration
CHI = ZoneInfo("America/Chicago")
E = dg.DagsterEventType
daily = dg.DailyPartitionsDefinition(start_date="2025-01-01", timezone="America/Chicago", end_offset=1)


@dg.asset(name="esg_ratings", partitions_def=daily)
def fake_esg_ratings() -> int:
    return 1


@dg.asset_check(asset=fake_esg_ratings, name=s.CALL_FAILURE_CHECK, blocking=False, partitions_def=daily)
def fake_check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    rate = 0.0833 if context.partition_key == "2026-11-20" else 0.05  # exactly 5 % passes
    return dg.AssetCheckResult(passed=rate <= 0.05, severity=dg.AssetCheckSeverity.ERROR,
                               metadata={"call_failure_rate": rate, "failed": 5, "accounts_called": 60})


@dg.asset(name="active_accounts", partitions_def=daily)
def failing_active_accounts() -> None:
    raise RuntimeError("AMS answered 503 three times")


@dg.asset(name="unrelated_asset", partitions_def=daily)
def failing_unrelated() -> None:
    raise RuntimeError("not ours")


@dg.op
def noop() -> None:
    pass


@dg.job(name="esg_daily_job")
def fake_daily_job() -> None:
    noop()


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.DagsterInstance.local_temp(str(home)) as inst:
        yield inst


@pytest.fixture
def channels(settings) -> list:
    return build_channels(settings)


def chicago(day: str, hh: int, mm: int) -> datetime:
    return datetime.fromisoformat(f"{day}T{hh:02d}:{mm:02d}:00").replace(tzinfo=CHI)


def event(instance: dg.DagsterInstance, run: dg.DagsterRun, kind: E, at: datetime, message: str = "") -> None:
    """Store a run event at a chosen instant: the run record's start time comes from it."""
    instance.handle_new_event(dg.EventLogEntry(
        error_info=None, level=logging.DEBUG, user_message=message, run_id=run.run_id,
        timestamp=at.timestamp(),
        dagster_event=dg.DagsterEvent(event_type_value=kind.value, job_name=run.job_name, message=message)))


def daily_run(instance: dg.DagsterInstance, partition: str, started_at: datetime | None = None,
              queued: bool = False) -> dg.DagsterRun:
    """A run record of the daily job, started at `started_at`, or QUEUED like a scheduled run
    waiting in the QueuedRunCoordinator (which insists on a code-location origin)."""
    extra = {}
    if queued:
        location = InProcessCodeLocationOrigin(LoadableTargetOrigin(python_file=__file__))
        extra = {"status": dg.DagsterRunStatus.QUEUED,
                 "remote_job_origin": RemoteJobOrigin(RemoteRepositoryOrigin(location, "__repository__"),
                                                      "esg_daily_job")}
    run = instance.create_run_for_job(fake_daily_job, tags={"dagster/partition": partition}, **extra)
    if started_at is not None:
        event(instance, run, E.RUN_START, started_at)
    return run


def evaluate(fn, instance, now, ledger_path: Path, channels, cursor=None):
    return fn(instance, now, AlertLedger(ledger_path), channels, cursor=cursor, policy=FAST)


def test_run_failed_once_per_channel(instance, channels, ledger_path, smtp_server: SmtpServer,
                                     pagerduty: PagerDutyStandIn) -> None:
    dg.materialize([failing_active_accounts], partition_key="2026-11-20", instance=instance, raise_on_error=False)
    dg.materialize([failing_unrelated], partition_key="2026-11-20", instance=instance, raise_on_error=False)
    dg.materialize([fake_esg_ratings], partition_key="2026-11-21", instance=instance)
    now = datetime.now(UTC)

    first = evaluate(s.evaluate_run_failed, instance, now, ledger_path, channels)

    [alert] = first.alerts
    assert (alert.kind.value, alert.partition) == ("run_failed", "2026-11-20")
    assert alert.details["failed_steps"] == "active_accounts"
    assert alert.summary.endswith(" failed in step(s) active_accounts; final")  # no daemon retry for it
    assert alert.details["error"] == "RuntimeError: AMS answered 503 three times"
    assert sorted(first.report.sent) == [("esg-ratings/2026-11-20/run_failed", "email"),
                                         ("esg-ratings/2026-11-20/run_failed", "pagerduty")]
    assert smtp_server.sink.messages[0].message["Subject"].startswith("[ESG Ratings] run_failed 2026-11-20: run ")
    assert pagerduty.events[0]["payload"]["severity"] == "critical"

    again = evaluate(s.evaluate_run_failed, instance, now, ledger_path, channels, cursor=first.cursor)
    restarted = evaluate(s.evaluate_run_failed, instance, now, ledger_path, channels, cursor=None)
    for later in (again, restarted):  # re-found (the cursor overlaps on purpose) but not re-sent
        assert later.report.recorded == [] and later.report.sent == [] and later.report.pending == []
    assert len(smtp_server.sink.messages) == 1 and len(pagerduty.events) == 1


def test_a_failed_retention_run_is_run_failed_of_its_day(instance, channels, ledger_path, smtp_server: SmtpServer,
                                                          pagerduty: PagerDutyStandIn) -> None:
    from esg_assets.resources.state import StateResource, StoreResource
    from esg_assets.retention import retention_job

    result = retention_job.execute_in_process(  # a malformed day: the op fails, the run FAILURE
        run_config={"ops": {"retention": {"config": {"today": "27/11/2026"}}}},
        resources={"state": StateResource(), "store": StoreResource()}, instance=instance, raise_on_error=False)
    assert not result.success
    day = instance.get_run_record_by_id(result.run_id).create_timestamp.astimezone(CHI).date().isoformat()

    first = evaluate(s.evaluate_run_failed, instance, datetime.now(UTC), ledger_path, channels)

    [alert] = first.alerts
    assert (alert.kind.value, alert.partition) == ("run_failed", f"retention-{day}")
    assert alert.details["job_name"] == "retention_job" and alert.details["failed_steps"] == "retention"
    assert pagerduty.events[0]["dedup_key"] == f"esg-ratings/retention-{day}/run_failed"
    assert smtp_server.sink.messages[0].message["Subject"].startswith(f"[ESG Ratings] run_failed retention-{day}: run ")
    again = evaluate(s.evaluate_run_failed, instance, datetime.now(UTC), ledger_path, channels)
    assert again.report.sent == [] and len(pagerduty.events) == 1


def test_failure_threshold_from_a_failed_non_blocking_check(instance, channels, ledger_path, smtp_server,
                                                           pagerduty) -> None:
    failing = dg.materialize([fake_esg_ratings, fake_check], partition_key="2026-11-20", instance=instance)
    dg.materialize([fake_esg_ratings, fake_check], partition_key="2026-11-21", instance=instance)
    assert failing.success  # the check does not stop the run: no failure sensor would fire
    now = datetime.now(UTC)

    first = evaluate(s.evaluate_failure_threshold, instance, now, ledger_path, channels)

    [alert] = first.alerts
    assert (alert.kind.value, alert.partition, alert.component) == ("failure_threshold", "2026-11-20", "esg_ratings")
    assert alert.details["call_failure_rate"] == pytest.approx(0.0833)
    assert alert.summary == "call failure rate 8.33% of 2026-11-20 is above 5 %"
    assert pagerduty.events[0]["payload"]["severity"] == "error"
    assert pagerduty.events[0]["dedup_key"] == "esg-ratings/2026-11-20/failure_threshold"
    assert evaluate(s.evaluate_failure_threshold, instance, now, ledger_path, channels).report.sent == []
    assert evaluate(s.evaluate_run_failed, instance, now, ledger_path, channels).alerts == []
    assert len(smtp_server.sink.messages) == 1


def test_missed_start(instance, channels, ledger_path, smtp_server, pagerduty) -> None:
    day, on_time, late = "2030-01-15", "2030-01-16", "2030-01-17"
    assert evaluate(s.evaluate_missed_start, instance, chicago(day, 5, 14), ledger_path, channels).alerts == []

    first = evaluate(s.evaluate_missed_start, instance, chicago(day, 5, 20), ledger_path, channels)
    [alert] = first.alerts
    assert (alert.kind.value, alert.partition, alert.details["runs_of_partition"]) == ("missed_start", day, 0)
    assert len(first.report.sent) == 2
    assert evaluate(s.evaluate_missed_start, instance, chicago(day, 23, 0), ledger_path, channels).report.sent == []

    daily_run(instance, on_time, started_at=chicago(on_time, 5, 1))
    assert evaluate(s.evaluate_missed_start, instance, chicago(on_time, 5, 16), ledger_path, channels).alerts == []

    daily_run(instance, late, started_at=chicago(late, 5, 30))
    [late_alert] = evaluate(s.evaluate_missed_start, instance, chicago(late, 5, 45), ledger_path, channels).alerts
    assert late_alert.details["first_late_start_at"] == "2030-01-17T11:30:00Z"
    assert len(smtp_server.sink.messages) == 2 and len(pagerduty.events) == 2


def test_window_exceeded_terminates_unfinished_runs_at_nine(instance, channels, ledger_path, smtp_server,
                                                            pagerduty) -> None:
    day = "2030-01-15"
    started = daily_run(instance, day, started_at=chicago(day, 5, 1))
    queued = daily_run(instance, day, queued=True)
    rerun = daily_run(instance, day, started_at=chicago(day, 9, 30))  # a manual rerun after the window

    assert evaluate(s.evaluate_window_exceeded, instance, chicago(day, 8, 59), ledger_path, channels).alerts == []
    assert instance.get_run_by_id(started.run_id).status == dg.DagsterRunStatus.STARTED

    first = evaluate(s.evaluate_window_exceeded, instance, chicago(day, 9, 0), ledger_path, channels)

    assert {a.details["run_id"] for a in first.alerts} == {started.run_id, queued.run_id}
    assert {a.partition for a in first.alerts} == {day}
    # No run launcher can reach a run with no process (like a CLI run): marked failed, as run
    # monitoring does; the queued one is simply de-queued.
    assert instance.get_run_by_id(started.run_id).status == dg.DagsterRunStatus.FAILURE
    assert instance.get_run_by_id(queued.run_id).status == dg.DagsterRunStatus.CANCELED
    assert instance.get_run_by_id(rerun.run_id).status == dg.DagsterRunStatus.STARTED
    assert len(smtp_server.sink.messages) == 1 and len(pagerduty.events) == 1  # one (partition, kind)
    assert pagerduty.events[0]["payload"]["severity"] == "critical"
    assert pagerduty.events[0]["dedup_key"] == f"esg-ratings/{day}/window_exceeded"

    later = evaluate(s.evaluate_window_exceeded, instance, chicago(day, 9, 1), ledger_path, channels)
    assert later.report.sent == []
    # The forced failure is the window's, not a second `run_failed` page.
    assert evaluate(s.evaluate_run_failed, instance, datetime.now(UTC), ledger_path, channels).alerts == []


def test_run_ended_by_run_monitoring_is_window_exceeded(instance, channels, ledger_path, pagerduty) -> None:
    run = daily_run(instance, "2026-11-20", started_at=datetime.now(UTC))
    instance.report_run_canceling(run, message="Canceling due to exceeding maximum runtime of 14400 seconds.")
    instance.report_run_failed(instance.get_run_by_id(run.run_id), "Exceeded maximum runtime of 14400 seconds.")
    now = datetime.now(UTC)

    assert evaluate(s.evaluate_run_failed, instance, now, ledger_path, channels).alerts == []
    [alert] = evaluate(s.evaluate_window_exceeded, instance, now, ledger_path, channels).alerts
    assert (alert.kind.value, alert.partition) == ("window_exceeded", "2026-11-20")
    assert "maximum runtime" in alert.details["reason"]


def test_cli_run_marked_failed_by_run_monitoring_that_then_succeeds(instance, channels, ledger_path,
                                                                    pagerduty) -> None:
    """Run monitoring cannot stop a `dagster asset materialize` run (no launcher reaches it): it
    marks it failed, the process runs on and the run ends SUCCESS (seen with 1.13.27). Still one
    `window_exceeded`, and no `run_failed`, whichever status a tick sees."""
    run = daily_run(instance, "2026-11-20", started_at=datetime.now(UTC))
    instance.report_run_canceling(run, message="Canceling due to exceeding maximum runtime of 14400 seconds.")
    instance.report_engine_event("Unable to get grpc client to send termination request to.", dagster_run=run)
    instance.report_run_failed(instance.get_run_by_id(run.run_id), "This job is being forcibly marked as failed.")
    event(instance, run, E.RUN_SUCCESS, datetime.now(UTC))
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.SUCCESS
    now = datetime.now(UTC)

    assert evaluate(s.evaluate_run_failed, instance, now, ledger_path, channels).alerts == []
    [alert] = evaluate(s.evaluate_window_exceeded, instance, now, ledger_path, channels).alerts
    assert (alert.kind.value, alert.partition, alert.details["status"]) == ("window_exceeded", "2026-11-20", "SUCCESS")
    assert "maximum runtime" in alert.details["reason"]
    assert [e["dedup_key"] for e in pagerduty.events] == ["esg-ratings/2026-11-20/window_exceeded"]


@pytest.fixture
def sensor_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, smtp_server, pagerduty) -> Path:
    home = tmp_path / "sensor_home"
    for name, value in {
        "DAGSTER_HOME": str(home), "ESG_ALERT_EMAIL_TO": "dev-team@example.com", "ESG_SMTP_HOST": "127.0.0.1",
        "ESG_SMTP_PORT": str(smtp_server.port), "ESG_SMTP_STARTTLS": "false",
        "ESG_ALERT_EMAIL_FROM": "esg-alerts@example.com", "ESG_PAGERDUTY_ROUTING_KEY": "k" * 32,
        "ESG_PAGERDUTY_EVENTS_URL": pagerduty.url,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("ESG_SMTP_USER", "ESG_SMTP_PASSWORD", "ESG_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.mark.parametrize("sensor", s.ALL_SENSORS, ids=lambda d: d.name)
def test_each_real_sensor_runs_once(sensor, instance, sensor_env: Path) -> None:
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.minimum_interval_seconds == s.MIN_INTERVAL_SECONDS
    dg.materialize([failing_active_accounts], partition_key="2026-11-20", instance=instance, raise_on_error=False)

    result = sensor(dg.build_sensor_context(instance=instance))

    assert isinstance(result, dg.SensorResult) and not result.run_requests
    assert (sensor_env / "esg_alerts.sqlite").exists()
    assert instance.event_log_storage.get_concurrency_info(STATE_DB_POOL).slot_count == 1  # run queue pool
    if sensor is s.run_failed_sensor:
        assert AlertLedger(sensor_env / "esg_alerts.sqlite").status("2026-11-20", "run_failed") == {
            "email": "sent", "pagerduty": "sent"}


def test_a_config_error_skips_with_one_line(instance, sensor_env, monkeypatch) -> None:
    monkeypatch.delenv("ESG_SMTP_HOST")
    result = s.run_failed_sensor(dg.build_sensor_context(instance=instance))
    assert "ESG_SMTP_HOST" in str(result.skip_reason)
