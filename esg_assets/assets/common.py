"""What every asset does at its start: read and check the configuration, name its partition."""


from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

import dagster as dg

from esg_assets.settings import ConfigError, Settings, load_settings
from esg_assets.storage.errors import StoreError

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
    from esg_assets.run_records import WINDOW_MARKER, end_facts  # run_records imports the assets' check

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


@contextmanager
def storage_failure(context: dg.AssetExecutionContext) -> Iterator[None]:
    """A storage error (the output file system full or read-only, the store unreachable) fails
    the step with its one line; the store has already removed its temporary file."""
    try:
        yield
    except StoreError as err:
        context.log.error(f"storage error: {err}")
        raise dg.Failure(description=f"storage error: {err}", allow_retries=False) from None


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
