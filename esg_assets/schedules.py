"""05:00 America/Chicago every day, materializing that same day's partition."""

import dagster as dg

from esg_assets.jobs import esg_daily_job

daily_schedule = dg.build_schedule_from_partitioned_job(
    esg_daily_job,
    hour_of_day=5,
    minute_of_hour=0,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    name="esg_daily_schedule",
)
