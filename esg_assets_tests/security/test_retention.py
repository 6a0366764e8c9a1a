"""Retention with a controlled clock: output files, log files and state-DB rows of partitions
older than ESG_RETENTION_DAYS are deleted and audited; recent ones are kept; the audit log is kept
and `audit verify` still passes. Also the op through `retention_job`, and its schedule."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from esg_assets.resources.state import StateResource, StoreResource
from esg_assets.retention import cutoff_instant, purge, retention_job, retention_schedule
from esg_assets.settings import load_storage
from esg_assets.state.db import connect
from esg_assets.storage import audit
from esg_assets.storage.names import logical_name
from esg_assets.storage.factory import open_store

TODAY = date(2026, 3, 1)
OLD = ["2026-01-01", "2026-01-29"]  # 59 and 31 days before TODAY
KEPT = ["2026-01-30", "2026-02-28", "2026-03-01"]  # 30 days before TODAY is still kept
TABLE_ROWS = {
    "accounts": "INSERT INTO accounts VALUES (?, 'ACC-1', 'Jane Doe', '2025-01-01T00:00:00Z')",
    "ratings": "INSERT INTO ratings (partition, account_id, status, source, ams_updated_at, attempts, run_id) "
               "VALUES (?, 'ACC-1', 'Successful', 'api', 'x', 1, 'r1')",
    "ratings_runs": "INSERT INTO ratings_runs (partition, run_id, mode, started_at) VALUES (?, 'r1', 'fresh', 'x')",
    "ratings_partitions": "INSERT INTO ratings_partitions (partition, last_run_id) VALUES (?, 'r1')",
    "job_history": "INSERT INTO job_history (partition, run_id) VALUES (?, 'r1')",
    "output_files": "INSERT INTO output_files VALUES (?, 'FirmESGRatings_x.csv', 1, 'ab', 1, 'r1', 'x')",
    "carry_checks": "INSERT INTO carry_checks VALUES (?, 'ACC-1', 'matched')",
}


@pytest.fixture
def populated(storage_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Files, logs and state rows for OLD and KEPT partitions; ESG_RETENTION_DAYS=30."""
    monkeypatch.setenv("ESG_RETENTION_DAYS", "30")
    settings = load_storage()
    store = open_store(settings)
    for partition in OLD + KEPT:
        for kind in ("ratings", "summary"):
            store.write(logical_name(partition, kind), [f"content of {partition} {kind}".encode()])
    settings.log_dir.mkdir(parents=True)
    zone = ZoneInfo("America/Chicago")
    for partition in OLD + KEPT:
        log = settings.log_dir / "runs" / f"run-{partition}.log"
        log.parent.mkdir(exist_ok=True)
        log.write_text("ACC-1 retried\n")
        # Late evening Central of that day: a UTC-based reading would put it on the next day.
        stamp = datetime.fromisoformat(f"{partition}T23:30:00").replace(tzinfo=zone).timestamp()
        os.utime(log, (stamp, stamp))
    with connect(settings.state_db, settings.encryption_key_bytes) as con:
        for partition in OLD + KEPT:
            for sql in TABLE_ROWS.values():
                con.execute(sql, [partition])
    return storage_env


def _partitions(con, table: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [r[0] for r in con.execute(f"SELECT DISTINCT partition FROM {table} ORDER BY 1").fetchall()]


def test_purge_deletes_old_data_keeps_recent_and_audits_each_deletion(populated: Path) -> None:
    settings = load_storage()
    store = open_store(settings)
    before = audit.verify(settings.audit_log).records
    with connect(settings.state_db, settings.encryption_key_bytes) as con:
        report = purge(settings, TODAY, store, con)
        for table in TABLE_ROWS:
            assert _partitions(con, table) == KEPT, table
    assert report.cutoff == date(2026, 1, 30)
    old_files = {logical_name(p, k) for p in OLD for k in ("ratings", "summary")}
    assert set(report.files) == old_files
    assert {f.logical_name for f in store.list()} == {logical_name(p, k) for p in KEPT for k in ("ratings", "summary")}
    assert sorted(report.logs) == [f"runs/run-{p}.log" for p in OLD]
    assert sorted(p.name for p in (settings.log_dir / "runs").iterdir()) == [f"run-{p}.log" for p in KEPT]
    assert sorted(report.partitions) == OLD
    assert report.partitions[OLD[0]] == dict.fromkeys(TABLE_ROWS, 1)

    records = list(audit.records(settings.audit_log))[before:]
    assert all(r["action"] == "retention-delete" and r["outcome"] == "ok" for r in records)
    assert {r["file"] for r in records if r["file"] and r["file"].startswith("FirmESG")} == old_files
    assert all(r["sha256"] for r in records if r["file"] in old_files)  # content hash of what went
    assert {r["file"] for r in records if r["file"] and r["file"].startswith("logs/")} == {
        f"logs/runs/run-{p}.log" for p in OLD}
    row_records = [r for r in records if r["file"] is None]
    assert [r["detail"].split("partition ")[1].split(":")[0] for r in row_records] == OLD
    assert all("Jane Doe" not in r["detail"] for r in row_records)
    result = audit.verify(settings.audit_log)
    assert result.ok and result.records == before + len(records)
    assert settings.audit_log.exists()

    with connect(settings.state_db, settings.encryption_key_bytes) as con:  # idempotent
        again = purge(settings, TODAY, store, con)
    assert (again.files, again.logs, again.partitions) == ([], [], {})


def test_retention_job_runs_the_op_with_a_given_day(populated: Path) -> None:
    result = retention_job.execute_in_process(
        run_config={"ops": {"retention": {"config": {"today": TODAY.isoformat()}}}},
        resources={"state": StateResource(), "store": StoreResource()},
    )
    assert result.success
    materialized = result.output_for_node("retention")
    assert materialized is None
    settings = load_storage()
    assert {f.logical_name for f in open_store(settings).list()} == {
        logical_name(p, k) for p in KEPT for k in ("ratings", "summary")}
    assert audit.verify(settings.audit_log).ok


def test_retention_schedule_runs_daily_at_six_central_by_default() -> None:
    assert retention_schedule.cron_schedule == "0 6 * * *"
    assert retention_schedule.execution_timezone == "America/Chicago"
    assert retention_schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert retention_schedule.job_name == "retention_job"
    assert retention_job.partitions_def is None


def test_retention_deletes_finished_dagster_runs_created_before_the_cutoff(
    populated: Path, tmp_path: Path
) -> None:
    resources = {"state": StateResource(), "store": StoreResource()}
    (tmp_path / "instance").mkdir()
    # Its own directory, DAGSTER_HOME left alone: the store and state DB stay where `populated` put them.
    with dg.instance_for_test(temp_dir=str(tmp_path / "instance"), set_dagster_home=False) as instance:
        first = retention_job.execute_in_process(
            run_config={"ops": {"retention": {"config": {"today": TODAY.isoformat()}}}},
            resources=resources, instance=instance)
        logs_dir = Path(instance.compute_log_manager._base_dir) / first.run_id  # noqa: SLF001
        logs_dir.mkdir(parents=True, exist_ok=True)
        (logs_dir / "compute_logs.out").write_text("ACC-1 retried\n")  # captured stdout of a step
        assert instance.get_run_by_id(first.run_id) is not None
        # A day far enough ahead that the run just made is older than ESG_RETENTION_DAYS (30).
        later = (datetime.now(ZoneInfo("America/Chicago")).date() + timedelta(days=31)).isoformat()
        second = retention_job.execute_in_process(
            run_config={"ops": {"retention": {"config": {"today": later}}}},
            resources=resources, instance=instance)
        assert second.success
        assert instance.get_run_by_id(first.run_id) is None
        assert instance.all_logs(first.run_id) == []
        assert not logs_dir.exists()
        assert instance.get_run_by_id(second.run_id) is not None  # the running one is never deleted
        metadata = next(e for e in second.all_events if e.event_type_value == "STEP_OUTPUT")
        assert metadata.event_specific_data.metadata["dagster_runs_deleted"].value == 1
    settings = load_storage()
    [record] = [r for r in audit.records(settings.audit_log) if first.run_id in (r["detail"] or "")]
    assert record["action"] == "retention-delete" and "retention_job" in record["detail"]
    assert audit.verify(settings.audit_log).ok


def test_the_run_cutoff_is_chicago_midnight_given_to_dagster_in_utc() -> None:
    # Dagster's RunsFilter(created_before=...) drops the tzinfo and compares naive UTC: what is
    # left after dropping it must be the UTC wall time (a Chicago-aware value equals the same
    # instant, but loses six hours when stripped).
    assert cutoff_instant(date(2026, 11, 28)).replace(tzinfo=None) == datetime(2026, 11, 28, 6, 0)  # CST
    assert cutoff_instant(date(2026, 7, 1)).replace(tzinfo=None) == datetime(2026, 7, 1, 5, 0)  # CDT
    assert cutoff_instant(date(2026, 7, 1)) == datetime(2026, 7, 1, 5, 0, tzinfo=UTC)
