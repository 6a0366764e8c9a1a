"""A 14-day job backfill through a real daemon whose run queue allows several runs at once
(`max_concurrent_runs: 4`) never meets DuckDB's "Could not set lock": the pool `esg_state_db`
(production dagster.yaml; its limit stored by the run coordinator when the first run is
submitted, `run_queue.py`) keeps the runs that need the state database one at a time, however
many the queue would start, also at the daemon's very first pass over a fresh instance.

Launch path: `dagster job backfill -j esg_daily_job --partitions ... --noprompt`, which submits
all 14 runs to the queue at once (an asset backfill hands the queue one day at a time, so it
never puts more than one run there). Tiny worlds (6 accounts) keep each run to a few seconds."""

from __future__ import annotations

import json
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml

from esg_assets.jobs import DAILY_JOB_NAME, STATE_DB_POOL
from esg_assets_tests.support.job import clean_environ, fast_job_env, read_output
from esg_assets_tests.operations.daemon import alive, dagster, running_daemon
from esg_assets_tests.pipeline.oracle import expected_csv, expected_row
from esg_assets_tests.sandbox.harness import SandboxProcess

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
DAYS = [f"2026-11-{d:02d}" for d in range(1, 15)]
MAX_CONCURRENT_RUNS = 4
S = dg.DagsterRunStatus
LOCK_ERROR = "Could not set lock"


def with_concurrent_runs(home: Path, limit: int) -> None:
    """The production dagster.yaml (copied by fast_job_env) with a run queue of `limit` runs."""
    path = home / "dagster.yaml"
    config = yaml.safe_load(path.read_text())
    config["concurrency"]["runs"] = {"max_concurrent_runs": limit}
    path.write_text(yaml.safe_dump(config))


def captured_output(home: Path) -> str:
    """Every step's captured stdout/stderr (the local compute log manager's files)."""
    return "\n".join(p.read_text(errors="replace") for p in (home / "storage").rglob("*")
                     if p.is_file() and p.suffix in (".out", ".err"))


def test_a_14_day_job_backfill_with_4_concurrent_runs_runs_one_at_a_time(tmp_path: Path, apply_env) -> None:
    home = tmp_path / "home"
    with SandboxProcess(accounts=6, seed=71, today=DAYS[-1]) as sb:
        env = clean_environ(**fast_job_env(home, sb.env()))
        with_concurrent_runs(home, MAX_CONCURRENT_RUNS)
        # A fresh instance, nobody ran `dagster instance concurrency set`, and the whole backfill is
        # queued before the daemon's first pass (submitted while it is down): the hardest case.
        dagster(env, "job", "backfill", "-m", "esg_assets", "-j", DAILY_JOB_NAME,
                "--partitions", ",".join(DAYS), "--noprompt")
        daemon_log = tmp_path / "daemon.log"
        with dg.DagsterInstance.from_config(str(home)) as instance:
            assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == MAX_CONCURRENT_RUNS
            queued = len(instance.get_runs(dg.RunsFilter(statuses=[S.QUEUED])))
            assert instance.event_log_storage.get_concurrency_info(STATE_DB_POOL).slot_count == 1
            with running_daemon(env, daemon_log) as daemon:
                records = wait_finished(instance, daemon, daemon_log)
            events = "\n".join(e.message or "" for r in records for e in instance.all_logs(r.dagster_run.run_id))
        apply_env(env)
        files = {day: (read_output(day, "ratings"), json.loads(read_output(day, "summary"))) for day in DAYS}
        expected = expected_csv([expected_row(a) for a in sb.accounts()])

    assert queued == len(DAYS), "the backfill did not put every day in the queue together"
    by_day = {r.dagster_run.tags["dagster/partition"]: r for r in records}
    assert sorted(by_day) == DAYS and len(records) == len(DAYS)
    assert {d: r.dagster_run.status for d, r in by_day.items()} == dict.fromkeys(DAYS, S.SUCCESS)
    # Never two runs STARTED at once: each began after the one before it had ended.
    ordered = sorted(records, key=lambda r: r.start_time)
    overlaps = [(a.dagster_run.tags["dagster/partition"], b.dagster_run.tags["dagster/partition"])
                for a, b in zip(ordered, ordered[1:]) if b.start_time < a.end_time]
    assert not overlaps, overlaps
    for day, (ratings, summary) in files.items():
        assert ratings == expected, day
        assert summary["partition"] == day and summary["total_accounts"] == 6, day
    for text, where in ((events, "event logs"), (captured_output(home), "step stdout/stderr"),
                        (daemon_log.read_text(errors="replace"), "daemon and run workers' output")):
        assert LOCK_ERROR not in text, where
        assert "state database is in use by another run" not in text, where  # nobody waited on the lock


def wait_finished(instance: dg.DagsterInstance, daemon, daemon_log: Path,
                  timeout: float = 400) -> list[dg.RunRecord]:
    """Every run of the backfill, once all of them have finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive(daemon, daemon_log)
        records = instance.get_run_records(dg.RunsFilter(job_name=DAILY_JOB_NAME))
        if len(records) >= len(DAYS) and all(r.dagster_run.is_finished for r in records):
            return list(records)
        time.sleep(1)
    raise AssertionError(f"backfill not finished within {timeout} s\n{daemon_log.read_text()[-3000:]}")
