"""`daily_summary`: the day's summary file, the job-history row, and the figures in the UI."""


from datetime import datetime, timezone
from typing import Any

import dagster as dg
import duckdb

from esg_assets import catalog
from esg_assets.assets.failures import storage_failure
from esg_assets.assets.start import run_start, settings_or_fail
from esg_assets.assets.files import ratings_csv
from esg_assets.clock import utc_text
from esg_assets.domain.summary import Summary, build_summary, summary_markdown
from esg_assets.jobs import STATE_DB_POOL
from esg_assets.observability import observed_step, write_metrics
from esg_assets.outputs.day_files import Written, store_file
from esg_assets.outputs.manifest import manifest_bytes
from esg_assets.partitions import daily_partitions
from esg_assets.reporting import render_report
from esg_assets.resources.state import StateResource, StoreResource
from esg_assets.state import report_queries as q
from esg_assets.state import carry_repo, trends
from esg_assets.state.files_repo import partition_files
from esg_assets.state.history_repo import record_history
from esg_assets.storage.store import Store


@dg.asset(partitions_def=daily_partitions, deps=[ratings_csv], group_name="esg", kinds={"json", "html"},
          **catalog.asset_facts(catalog.PERSONAL_IDS), pool=STATE_DB_POOL)
def daily_summary(context: dg.AssetExecutionContext, state: StateResource, store: StoreResource) -> dg.MaterializeResult:
    """`FirmESGSummary_YYYYMMDD.json` and `FirmESGReport_YYYYMMDD.html`: the day at a glance — accounts processed, success rate,
    average Overall/E/S/G scores, primary-focus distribution and every failed account; plus one
    job-history row per run for trend analysis."""
    settings = settings_or_fail(context)
    partition = context.partition_key
    started = run_start(context)
    now = datetime.now(timezone.utc)
    with observed_step(context, "daily_summary", settings.storage.log_dir) as log, storage_failure(context):
        # One connection for the figures, the history row and the files' records: each open
        # loads the extension, attaches the encrypted file and checks the schema again.
        with state.connect(settings.storage) as con:
            summary, report = _summarize(context, con, partition, started, now)
            written = _write_files(con, store.open(settings.storage), partition, context.run_id, summary, report)
        stored = written[0].stored
        metrics = write_metrics(settings.storage.log_dir.parent / "metrics", summary)
        log.event("summary_written", files=[w.stored.logical_name for w in written], total_accounts=summary.total_accounts,
                  statuses=dict(summary.status_counts), success_rate=summary.success_rate, call_failure_rate=summary.call_failure_rate,
                  accounts_called=summary.accounts_called, carried_forward=summary.carried_forward,
                  api=summary.api.to_json(), metrics_file=str(metrics))
        log.event("job_end", duration_seconds=summary.duration_seconds, total_accounts=summary.total_accounts)
    metadata = _metadata(summary, stored.logical_name)
    for w in written:
        metadata.update(catalog.file_metadata(w.kind, w.stored))
    return dg.MaterializeResult(metadata=metadata)


def _write_files(con: duckdb.DuckDBPyConnection, files: Store, partition: str, run_id: str, summary: Summary, report: bytes) -> list[Written]:
    """The summary and the report, then the manifest: last, once every file of the day is written."""
    written = [store_file(con, files, partition, "summary", [summary.to_json()], run_id),
               store_file(con, files, partition, "report", [report], run_id)]
    try:
        document = manifest_bytes(partition, run_id, summary.generated_at, partition_files(con, partition))
    except ValueError as err:
        raise dg.Failure(description=str(err)) from None
    return [*written, store_file(con, files, partition, "manifest", [document], run_id)]


def _summarize(context: dg.AssetExecutionContext, con: duckdb.DuckDBPyConnection, partition: str,
               started: datetime, now: datetime) -> tuple[Summary, bytes]:
    """The summary (and its job-history row) and the HTML report with its 30-day trends."""
    if not q.ratings_completed(con, partition):
        raise dg.Failure(description=f"the ratings of {partition} are incomplete: materialize esg_ratings first")
    # One scan of the day's rows for the summary and the report (docs/benchmarks.md).
    day = q.day_figures(con, partition)
    figures = day.figures
    api = q.latest_run(con, partition) or {}
    summary = build_summary(
        partition=partition,
        generated_at=utc_text(now),
        total_accounts=figures.total_accounts,
        status_counts=figures.status_counts,
        accounts_called=figures.accounts_called,
        carried_forward=figures.carried_forward,
        score_sums=figures.score_sums,
        focus_counts=figures.focus_counts,
        failed_accounts=day.failed_accounts,
        api={k: api.get(k) or 0 for k in ("requests", "retries", "rate_limited", "token_refreshes")},
        duration_seconds=(now - started).total_seconds(),
        carry_check=carry_repo.carry_check(con, partition),
    )
    record_history(con, summary, run_id=context.run_id, started_at=started, ended_at=now)
    # After the history row, so today's run is the last point of the trends.
    report = render_report(summary, day.histograms, trends.history(con, partition))
    return summary, report


def _metadata(summary: Summary, summary_file: str) -> dict[str, Any]:
    """The figures in the UI: Markdown for people, numbers the UI plots across partitions."""
    c = summary.status_counts
    metadata: dict[str, Any] = {
        "summary": dg.MetadataValue.md(summary_markdown(summary)),
        "summary_file": summary_file,
        "total_accounts": dg.MetadataValue.int(summary.total_accounts),
        "successful": dg.MetadataValue.int(c["Successful"]),
        "partial": dg.MetadataValue.int(c["Partial"]),
        "failed": dg.MetadataValue.int(c["Failed"]),
        "success_rate": dg.MetadataValue.float(float(summary.success_rate)),
        "call_failure_rate": dg.MetadataValue.float(float(summary.call_failure_rate)),
        "accounts_called": dg.MetadataValue.int(summary.accounts_called),
        "carried_forward": dg.MetadataValue.int(summary.carried_forward),
        "api_requests": dg.MetadataValue.int(summary.api.requests),
        "duration_seconds": dg.MetadataValue.float(summary.duration_seconds),
    }
    for key, value in summary.average_scores.items():
        if value is not None:
            metadata[f"avg_{key}"] = dg.MetadataValue.float(float(value))
    return metadata
