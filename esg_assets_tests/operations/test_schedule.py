"""The 05:00 America/Chicago schedule materializes that same day, in CST and CDT alike, and
every run carries the 4-hour limit."""

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from esg_assets.definitions import defs
from esg_assets.jobs import MAX_RUNTIME_SECONDS, esg_daily_job
from esg_assets.schedules import daily_schedule

CHICAGO = ZoneInfo("America/Chicago")


def test_schedule_is_5am_chicago_and_running_by_default() -> None:
    assert daily_schedule.cron_schedule == "0 5 * * *"
    assert daily_schedule.execution_timezone == "America/Chicago"
    assert daily_schedule.default_status == dg.DefaultScheduleStatus.RUNNING


@pytest.mark.parametrize(
    "day",
    ["2026-01-15",  # CST
     "2026-07-15",  # CDT
     "2026-03-08",  # the day clocks go forward
     "2026-11-01",  # the day clocks go back
     "2025-01-01"],  # the first partition
)
def test_the_5am_tick_requests_that_same_days_partition(day: str) -> None:
    y, m, d = map(int, day.split("-"))
    tick = datetime(y, m, d, 5, 0, tzinfo=CHICAGO)
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
        result = daily_schedule.evaluate_tick(context)
    assert result.run_requests is not None and len(result.run_requests) == 1
    request = result.run_requests[0]
    assert request.partition_key == day
    assert request.tags.get("dagster/partition") == day


def test_the_daily_job_carries_the_4_hour_limit() -> None:
    assert esg_daily_job.tags["dagster/max_runtime"] == str(MAX_RUNTIME_SECONDS) == "14400"
    assert esg_daily_job.name in {j.name for j in defs.jobs or []}


def test_run_monitoring_enforces_the_window_for_every_launch_path(tmp_path) -> None:
    """Runs launched from the asset graph, backfills and the CLI do not get job tags, so the
    instance-wide limit in dagster.yaml covers them."""
    import yaml

    from esg_assets_tests.support.job import REPO

    overrides = yaml.safe_load((REPO / "dagster.yaml").read_text())
    with dg.instance_for_test(overrides=overrides) as instance:
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_settings["max_runtime_seconds"] == MAX_RUNTIME_SECONDS
