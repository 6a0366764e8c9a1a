"""The 05:00 America/Chicago schedule materializes that same day, in CST and CDT alike, and
every run carries the 4-hour limit."""

import gc
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
    requests = tick_requests(day)
    assert len(requests) == 1
    request = requests[0]
    assert request.partition_key == day
    assert request.tags.get("dagster/partition") == day


def tick_requests(day: str) -> list[dg.RunRequest]:
    """The run requests of the 05:00 tick of `day`, evaluated on a test instance.

    The schedule context is closed inside the instance's block: the context opens its own
    instance from the test instance's ref, and entering a Dagster instance sets the process's
    current definitions-state storage. Left open, that instance was closed later by the garbage
    collector, which put back the storage of the test instance already gone, and any later
    `Definitions` resolved in the process failed with "Attempted to resolve undefined
    DagsterInstance weakref" (test_names.py on the same xdist worker)."""
    y, m, d = map(int, day.split("-"))
    tick = datetime(y, m, d, 5, 0, tzinfo=CHICAGO)
    with dg.instance_for_test() as instance, \
            dg.build_schedule_context(instance=instance, scheduled_execution_time=tick) as context:
        result = daily_schedule.evaluate_tick(context)
    assert result.run_requests is not None
    return list(result.run_requests)


def test_a_tick_evaluated_here_leaves_later_definitions_loadable() -> None:
    tick_requests("2026-01-15")
    gc.collect()  # what closed the leaked instance, at a moment the garbage collector chose

    @dg.asset
    def probe() -> None:
        """An asset of fresh definitions, resolved after the tick."""

    assert dg.Definitions(assets=[probe]).resolve_asset_graph().get_all_asset_keys() == {dg.AssetKey("probe")}


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
