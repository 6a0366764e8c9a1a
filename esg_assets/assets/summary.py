"""`daily_summary`: the day's summary file, the job-history row, and the figures in the UI."""


from datetime import datetime, timezone
from typing import Any

import dagster as dg

from esg_assets.assets.common import settings_or_fail, storage_failure
from esg_assets.assets.files import ratings_csv
from esg_assets.domain.summary import build_summary, summary_json, summary_markdown
from esg_assets.jobs import STATE_DB_POOL
from esg_assets.observability import observed_step, write_metrics
from esg_assets.partitions import daily_partitions
from esg_assets.reporting import render_report
from esg_assets.resources.state import StateResource, StoreResource
from esg_assets.settings import StorageSettings
from esg_assets.state import report_queries as q
from esg_assets.state import trends
from esg_assets.state.history_repo import record_history
from esg_assets.storage.names import logical_name


def _run_start(context: dg.AssetExecutionContext) -> datetime:
    record = context.instance.get_run_record_by_id(context.run_id)
    if record is not None and record.start_time is not None:
        return datetime.fromtimestamp(record.start_time, timezone.utc)
    return datetime.now(timezone.utc)


@dg.asset(partitions_def=daily_partitions, deps=[ratings_csv], group_name="esg", kinds={"json", "html"}, pool=STATE_DB_POOL)
def daily_summary(context: dg.AssetExecutionContext, state: StateResource, store: StoreResource) -> dg.MaterializeResult:
    """`FirmESGSummary_YYYYMMDD.json` and `FirmESGReport_YYYYMMDD.html`: the day at a glance — accounts processed, success rate,
    average Overall/E/S/G scores, primary-focus distribution and every failed account; plus one
    job-history row per run for trend analysis."""
    settings = settings_or_fail(context)
    partition = context.partition_key
    started = _run_start(context)
    now = datetime.now(timezone.utc)
    with observed_step(context, "daily_summary", settings.storage.log_dir) as log, storage_failure(context):
        summary, report = _summarize(context, state, settings.storage, partition, started, now)
        files = store.open(settings.storage)
        stored = files.write(logical_name(partition, "summary"), [summary_json(summary)])
        report_stored = files.write(logical_name(partition, "report"), [report])
        metrics = write_metrics(settings.storage.log_dir.parent / "metrics", summary)
        c = summary["status_counts"]
        log.event("summary_written", files=[stored.logical_name, report_stored.logical_name], total_accounts=summary["total_accounts"],
                  statuses=c, success_rate=summary["success_rate"], call_failure_rate=summary["call_failure_rate"],
                  accounts_called=summary["accounts_called"], carried_forward=summary["carried_forward"],
                  api=summary["api"], metrics_file=str(metrics))
        log.event("job_end", duration_seconds=summary["duration_seconds"], total_accounts=summary["total_accounts"])
    return dg.MaterializeResult(metadata={**_metadata(summary, stored.logical_name), "report_file": report_stored.logical_name})


def _summarize(context: dg.AssetExecutionContext, state: StateResource, storage: StorageSettings, partition: str,
               started: datetime, now: datetime) -> tuple[dict, bytes]:
    """The summary (and its job-history row) and the HTML report with its 30-day trends."""
    with state.connect(storage) as con:
        if not q.ratings_completed(con, partition):
            raise dg.Failure(description=f"the ratings of {partition} are incomplete: materialize esg_ratings first")
        figures = q.figures(con, partition)
        api = q.latest_run(con, partition) or {}
        summary = build_summary(
            partition=partition,
            generated_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            total_accounts=figures.total_accounts,
            status_counts=figures.status_counts,
            accounts_called=figures.accounts_called,
            carried_forward=figures.carried_forward,
            score_sums=figures.score_sums,
            focus_counts=figures.focus_counts,
            failed_accounts=q.failed_accounts(con, partition),
            api={k: api.get(k) or 0 for k in ("requests", "retries", "rate_limited", "token_refreshes")},
            duration_seconds=(now - started).total_seconds(),
        )
        record_history(con, summary, run_id=context.run_id, started_at=started, ended_at=now)
        # After the history row, so today's run is the last point of the trends.
        report = render_report(summary, trends.score_histograms(con, partition), trends.history(con, partition))
    return summary, report


def _metadata(summary: dict, summary_file: str) -> dict[str, Any]:
    """The figures in the UI: Markdown for people, numbers the UI plots across partitions."""
    c = summary["status_counts"]
    metadata: dict[str, Any] = {
        "summary": dg.MetadataValue.md(summary_markdown(summary)),
        "summary_file": summary_file,
        "total_accounts": dg.MetadataValue.int(summary["total_accounts"]),
        "successful": dg.MetadataValue.int(c["Successful"]),
        "partial": dg.MetadataValue.int(c["Partial"]),
        "failed": dg.MetadataValue.int(c["Failed"]),
        "success_rate": dg.MetadataValue.float(float(summary["success_rate"])),
        "call_failure_rate": dg.MetadataValue.float(float(summary["call_failure_rate"])),
        "accounts_called": dg.MetadataValue.int(summary["accounts_called"]),
        "carried_forward": dg.MetadataValue.int(summary["carried_forward"]),
        "api_requests": dg.MetadataValue.int(summary["api"]["requests"]),
        "duration_seconds": dg.MetadataValue.float(summary["duration_seconds"]),
    }
    for key, value in summary["average_scores"].items():
        if value is not None:
            metadata[f"avg_{key}"] = dg.MetadataValue.float(float(value))
    return metadata
