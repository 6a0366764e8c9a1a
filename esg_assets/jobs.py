"""The daily job: the four assets (and their check) for one partition, with the 4-hour limit."""

import dagster as dg

from esg_assets.partitions import daily_partitions

DAILY_JOB_NAME = "esg_daily_job"
RETENTION_JOB_NAME = "retention_job"  # defined in retention.py
MAX_RUNTIME_SECONDS = 4 * 3600  # 05:00 -> 09:00 Central
RUN_TAGS = {"dagster/max_runtime": str(MAX_RUNTIME_SECONDS)}
# Every asset and op that opens the state database is in this pool; dagster.yaml gives it one
# slot at run granularity, so a second run that needs the database waits QUEUED in Dagster's run
# queue (visible, not spending its max runtime) instead of STARTED inside a DuckDB lock wait.
STATE_DB_POOL = "esg_state_db"

esg_daily_job = dg.define_asset_job(
    name=DAILY_JOB_NAME,
    selection=dg.AssetSelection.groups("esg"),
    partitions_def=daily_partitions,
    tags=RUN_TAGS,
    description="Active accounts -> ESG ratings -> CSV and error file -> daily summary, for one day.",
)
