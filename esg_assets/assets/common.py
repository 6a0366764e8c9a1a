"""What every asset does at its start: read and check the configuration, name its partition."""


from datetime import datetime, timezone

import dagster as dg

from esg_assets.settings import ConfigError, Settings, load_settings


def settings_or_fail(context: dg.AssetExecutionContext) -> Settings:
    """All settings, or a failed run with one line naming the bad variable (before any call
    and before anything is written)."""
    try:
        return load_settings()
    except ConfigError as err:
        context.log.error(f"configuration error: {err}")
        raise dg.Failure(description=f"configuration error: {err}", allow_retries=False) from None


def utc_now_text() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ymd(partition: str) -> str:
    return partition.replace("-", "")


def run_start(context: dg.AssetExecutionContext) -> datetime:
    """When the run started (its 4-hour window runs from there, §8); now if not recorded."""
    record = context.instance.get_run_record_by_id(context.run_id)
    if record is not None and record.start_time is not None:
        return datetime.fromtimestamp(record.start_time, timezone.utc)
    return datetime.now(timezone.utc)
