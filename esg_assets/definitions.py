"""The one entry point: the Dagster definitions of the ESG ratings job.

Loading them does no I/O: settings are read when a run (or sensor tick) starts.
"""

import dagster as dg
from dagster_aws.s3 import S3Resource

from esg_assets.assets import ALL_ASSETS
from esg_assets.checks import call_failure_rate_within_5_percent, carried_rows_match_api
from esg_assets.jobs import esg_daily_job
from esg_assets.resources.state import StateResource, StoreResource
from esg_assets.resources.clients import UpstreamResource
from esg_assets.retention import retention_job, retention_schedule
from esg_assets.schedules import daily_schedule
from esg_assets.sensors import ALL_SENSORS
from esg_assets.sensors_forecast import window_at_risk_sensor

# The S3 client of the store (S3 mode); a top-level resource too, so the UI lists it and what uses it.
s3 = S3Resource()

defs = dg.Definitions(
    assets=ALL_ASSETS,
    asset_checks=[call_failure_rate_within_5_percent, carried_rows_match_api],
    jobs=[esg_daily_job, retention_job],
    schedules=[daily_schedule, retention_schedule],
    sensors=[*ALL_SENSORS, window_at_risk_sensor],
    resources={
        "upstream": UpstreamResource(),
        "state": StateResource(),
        "store": StoreResource(s3=s3),
        "s3": s3,
    },
    # One process per run: the steps share the state database's single writer and the run's
    # rate limiter instead of competing for them (docs/architecture.md, "Concurrency").
    executor=dg.in_process_executor,
)
