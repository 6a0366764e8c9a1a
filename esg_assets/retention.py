"""Retention: files, logs and history older than `ESG_RETENTION_DAYS` are deleted daily, audited.

"Older than N days" is relative to today in America/Chicago: with N = 2555 and today
2026-11-27, partitions before 2019-11-29 (today - N) go, that day itself is kept. What goes:

- output files of those partitions, through the store's `delete(..., action="retention-delete")`,
  which audits each one with the SHA-256 of the content removed;
- files under `StorageSettings.log_dir` of days before that day (one audit record each): a job
  log `esg-ratings-YYYY-MM-DD.jsonl` by the day in its name, any other file by its mtime;
- the state DB rows of those partitions (accounts, ratings, ratings_runs, ratings_partitions,
  job_history), one transaction and one audit record per partition;
- the Dagster instance's finished runs created before that day (run record, event log, captured
  stdout/stderr), one audit record each: they name account IDs, and the instance must not grow
  for ever.

The audit log itself is never purged: it is the record that the deletions happened (it holds
file names, hashes and account-free details only).

`purge` is plain Python with the day passed in, so tests drive it with a controlled clock; the op
`retention` runs it from `retention_job`, which `retention_schedule` starts at 06:00 Central.
"""

# No `from __future__ import annotations`: Dagster reads the op's config and resource
# annotations at definition time and cannot resolve them as strings.
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb

from esg_assets.jobs import RETENTION_JOB_NAME, STATE_DB_POOL
from esg_assets.observability import log_file_day
from esg_assets.partitions import TIMEZONE, chicago_day
from esg_assets.resources.state import StateResource, StoreResource
from esg_assets.settings import ConfigError, StorageSettings, load_storage
from esg_assets.state.db import transaction
from esg_assets.storage import audit
from esg_assets.storage.names import partition_of
from esg_assets.storage.store import Store

ACTION = "retention-delete"
# Every partitioned table of the state DB; order matters only for readability of the counts.
STATE_TABLES = ("accounts", "ratings", "ratings_runs", "ratings_partitions", "job_history", "output_files", "carry_checks")


@dataclass
class RetentionReport:
    cutoff: date  # partitions (and logs last modified) before this day were purged
    files: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    partitions: dict[str, dict[str, int]] = field(default_factory=dict)  # partition -> table -> rows
    runs: list[str] = field(default_factory=list)  # Dagster run ids deleted from the instance

    @property
    def rows(self) -> int:
        return sum(sum(counts.values()) for counts in self.partitions.values())


def cutoff_day(today: date, retention_days: int) -> date:
    """The first day kept: anything dated before it is older than `retention_days`."""
    return today - timedelta(days=retention_days)


def cutoff_instant(cutoff: date) -> datetime:
    """Midnight of the cutoff day in Chicago, in UTC: Dagster's run filters drop the tzinfo and
    compare with the naive UTC creation times they store (a Chicago-aware value would be read as
    UTC and keep runs up to six hours too long)."""
    return datetime.combine(cutoff, datetime.min.time(), tzinfo=ZoneInfo(TIMEZONE)).astimezone(timezone.utc)


def _purge_files(store: Store, cutoff: date, report: RetentionReport) -> None:
    for entry in store.list():
        if partition_of(entry.logical_name) < cutoff:
            store.delete(entry.logical_name, f"retention: older than {cutoff.isoformat()}", action=ACTION)
            report.files.append(entry.logical_name)


def _purge_logs(settings: StorageSettings, actor: str, cutoff: date, report: RetentionReport) -> None:
    root = Path(settings.log_dir)
    if not root.is_dir():
        return
    zone = ZoneInfo(TIMEZONE)
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        named = log_file_day(path.name)
        modified = named or datetime.fromtimestamp(path.stat().st_mtime, tz=zone).date()
        if modified >= cutoff:
            continue
        relative = path.relative_to(root).as_posix()
        try:
            path.unlink()
        except OSError as err:
            # Audited and reported, not raised: one stubborn log must not keep old data forever.
            audit.append(settings.audit_log, actor=actor, action=ACTION, file=f"logs/{relative}",
                         outcome="error", detail=f"retention: {err.strerror}")
            continue
        audit.append(settings.audit_log, actor=actor, action=ACTION, file=f"logs/{relative}",
                     detail=f"retention: log of {modified.isoformat()}" if named else
                     f"retention: log last modified {modified.isoformat()}")
        report.logs.append(relative)


def _old_partitions(con: duckdb.DuckDBPyConnection, cutoff: date) -> list[str]:
    union = " UNION ".join(f"SELECT partition FROM {table}" for table in STATE_TABLES)
    # Partition keys are YYYY-MM-DD text, so text order is date order.
    rows = con.execute(f"SELECT DISTINCT partition FROM ({union}) WHERE partition < ? ORDER BY 1",
                       [cutoff.isoformat()]).fetchall()
    return [row[0] for row in rows]


def _purge_rows(con: duckdb.DuckDBPyConnection, settings: StorageSettings, actor: str, cutoff: date,
                report: RetentionReport) -> None:
    for partition in _old_partitions(con, cutoff):
        counts: dict[str, int] = {}
        with transaction(con):
            for table in STATE_TABLES:
                deleted = con.execute(f"DELETE FROM {table} WHERE partition = ?", [partition]).fetchone()
                counts[table] = int(deleted[0]) if deleted else 0
        # Counts only: the rows held account names, which must not reach the audit log.
        detail = f"retention: state rows of partition {partition}: " + ", ".join(
            f"{table}={n}" for table, n in counts.items())
        audit.append(settings.audit_log, actor=actor, action=ACTION, file=None, detail=detail)
        report.partitions[partition] = counts


def _purge_runs(instance: dg.DagsterInstance, settings: StorageSettings, actor: str, cutoff: date,
                report: RetentionReport) -> None:
    """Finished runs created before the cutoff day (Chicago midnight); an unfinished one stays."""
    for record in instance.get_run_records(filters=dg.RunsFilter(created_before=cutoff_instant(cutoff))):
        run = record.dagster_run
        if not run.is_finished:
            continue
        instance.delete_run(run.run_id)  # the run record and its event log
        try:
            instance.compute_log_manager.delete_logs(prefix=[run.run_id])  # captured stdout/stderr
        except NotImplementedError:  # a compute log manager that cannot delete keeps them
            pass
        audit.append(settings.audit_log, actor=actor, action=ACTION, file=None,
                     detail=f"retention: Dagster run {run.run_id} ({run.job_name}, "
                            f"partition {run.tags.get('dagster/partition', 'none')}, "
                            f"created {record.create_timestamp.date().isoformat()})")
        report.runs.append(run.run_id)


def purge(settings: StorageSettings, today: date, store: Store, con: duckdb.DuckDBPyConnection,
          instance: dg.DagsterInstance | None = None) -> RetentionReport:
    """Delete (and audit) the files, logs, state rows and (given an instance) Dagster runs older
    than `settings.retention_days` before `today` (a Chicago calendar day)."""
    report = RetentionReport(cutoff_day(today, settings.retention_days))
    actor = getattr(store, "actor", settings.audit_actor)
    _purge_files(store, report.cutoff, report)
    _purge_logs(settings, actor, report.cutoff, report)
    _purge_rows(con, settings, actor, report.cutoff, report)
    if instance is not None:
        _purge_runs(instance, settings, actor, report.cutoff, report)
    return report


class RetentionConfig(dg.Config):
    today: str | None = None  # YYYY-MM-DD; default: today in America/Chicago (manual catch-up runs)


@dg.op(name="retention", pool=STATE_DB_POOL)
def retention_op(
    context: dg.OpExecutionContext, config: RetentionConfig, state: StateResource, store: StoreResource
) -> dg.Output[None]:
    """Deletes output files, logs, state-DB history and Dagster runs older than ESG_RETENTION_DAYS (audited)."""
    try:
        settings = load_storage()
        today = date.fromisoformat(config.today) if config.today else chicago_day()
    except (ConfigError, ValueError) as err:
        raise dg.Failure(description=f"configuration error: {err}", allow_retries=False) from None
    with state.connect(settings) as con:
        report = purge(settings, today, store.open(settings), con, context.instance)
    context.log.info(
        f"retention before {report.cutoff.isoformat()}: {len(report.files)} files, {len(report.logs)} logs, "
        f"{report.rows} state rows of {len(report.partitions)} partitions, {len(report.runs)} Dagster runs deleted"
    )
    return dg.Output(None, metadata={
        "cutoff": report.cutoff.isoformat(),
        "files_deleted": len(report.files),
        "logs_deleted": len(report.logs),
        "partitions_purged": len(report.partitions),
        "state_rows_deleted": report.rows,
        "dagster_runs_deleted": len(report.runs),
    })


@dg.job(name=RETENTION_JOB_NAME, description="Daily deletion of data older than ESG_RETENTION_DAYS (audited).")
def retention_job() -> None:
    retention_op()


retention_schedule = dg.ScheduleDefinition(
    name="retention_schedule",
    job=retention_job,
    cron_schedule="0 6 * * *",
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

__all__ = ["RetentionReport", "purge", "retention_job", "retention_op", "retention_schedule"]
