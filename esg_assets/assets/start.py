"""What every asset does at its start: read and check the configuration, refuse an automatic
retry of a run that its window ended, and know when the run started."""


from datetime import datetime, timezone

import dagster as dg

from esg_assets.names import WINDOW_MARKER
from esg_assets.run_records import end_facts
from esg_assets.settings import ConfigError, Settings, load_settings

RETRY_NUMBER_TAG = "dagster/retry_number"  # set by the daemon on an automatic retry


def settings_or_fail(context: dg.AssetExecutionContext) -> Settings:
    """All settings, or a failed run with one line naming the bad variable (before any call
    and before anything is written)."""
    refuse_retry_after_window(context)
    try:
        return load_settings()
    except ConfigError as err:
        context.log.error(f"configuration error: {err}")
        raise dg.Failure(description=f"configuration error: {err}", allow_retries=False) from None


def refuse_retry_after_window(context: dg.AssetExecutionContext) -> None:
    """Automatic retries (dagster.yaml `run_retries`) are for runs whose process died. Run
    monitoring also ends a run at its 4-hour `max_runtime` as a plain failure, which Dagster
    would retry into a fresh 4 hours; such a retry stops here, before any call, naming the
    window, so the sensors see it as the window's (`window_exceeded`), never as `run_failed`."""
    # The tags first, from the op context: they are also there when the asset is called
    # directly (`dg.build_asset_context`, the fast tests), which has no run to read.
    if context.op_execution_context.run_tags.get(RETRY_NUMBER_TAG) is None:
        return  # not an automatic retry (a re-execution a person launched is theirs to decide)
    run = context.run
    if not run.parent_run_id:
        return
    if end_facts(context.instance, run.parent_run_id)["window"]:
        text = f"{WINDOW_MARKER}: run {run.parent_run_id[:8]} ended at its run window; not retried automatically"
        context.instance.report_engine_event(text, dagster_run=run)
        raise dg.Failure(description=text, allow_retries=False)


def run_start(context: dg.AssetExecutionContext) -> datetime:
    """When the run started (its 4-hour window runs from there, docs/spec.md#partitions); now if not recorded."""
    record = context.instance.get_run_record_by_id(context.run_id)
    if record is not None and record.start_time is not None:
        return datetime.fromtimestamp(record.start_time, timezone.utc)
    return datetime.now(timezone.utc)
