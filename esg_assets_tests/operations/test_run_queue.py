"""Runs that need the state database queue in Dagster, visibly, instead of sitting in STARTED
inside a step waiting for DuckDB's file lock: the production dagster.yaml gives the assets'
pool (`esg_state_db`) one slot at run granularity, and a real daemon's run queue holds the
second run QUEUED until the first has ended. Both succeed.

The pool's limit is set once with `dagster instance concurrency set`, as docs/operations.md asks
after copying dagster.yaml: `default_limit` alone is applied by the run queue only from the pass
after it first sees the pool, so two runs queued before that first pass would both start.

Both runs are submitted before the daemon starts, so its first pass finds them QUEUED together:
one `dagster job backfill` of the two days, which submits them one after the other in one process
(two `dagster job launch` processes cost about 20 s each here; started at the same moment they
raced on SQLite's run storage, "database is locked" under load, which is not the queue's behaviour
under test). `dagster job launch` into the queue is the path of the crash-retry, host-loss and
run-monitoring tests."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from esg_assets.jobs import DAILY_JOB_NAME, STATE_DB_POOL
from esg_assets_tests.operations.daemon import dagster
from esg_assets_tests.support.alerting import stop_daemon
from esg_assets_tests.support.job import REPO, clean_environ, fast_job_env
from esg_assets_tests.sandbox.harness import SandboxProcess

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
BIN = Path(sys.executable).parent
DAYS = ("2026-11-16", "2026-11-17")
S = dg.DagsterRunStatus


def test_a_second_run_needing_the_state_database_is_queued_not_started(tmp_path: Path) -> None:
    home = tmp_path / "home"
    # 40 calls at 10 per second: each run holds the database for about 4 s in esg_ratings.
    with SandboxProcess(accounts=40, seed=61, today=DAYS[1]) as sb:
        env = clean_environ(**fast_job_env(home, sb.env(), ESG_API_RATE_LIMIT_PER_SECOND="10"))
        with dg.DagsterInstance.from_config(str(home)) as instance:
            dagster(env, "instance", "concurrency", "set", STATE_DB_POOL, "1")
            dagster(env, "job", "backfill", "-m", "esg_assets", "-j", DAILY_JOB_NAME,
                    "--partitions", ",".join(DAYS), "--noprompt")
            ids = {r.tags["dagster/partition"]: r.run_id for r in instance.get_runs(dg.RunsFilter(job_name=DAILY_JOB_NAME))}
            assert sorted(ids) == sorted(DAYS)
            assert {instance.get_run_by_id(r).status for r in ids.values()} == {S.QUEUED}
            daemon_log = tmp_path / "daemon.log"
            with open(daemon_log, "w") as out:
                daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-m", "esg_assets"], cwd=REPO,
                                          env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                seen = watch(instance, list(ids.values()), daemon, daemon_log)
            finally:
                stop_daemon(daemon, wait=20)
            records = {day: instance.get_run_record_by_id(ids[day]) for day in DAYS}
            logs = "\n".join(e.message or "" for run_id in ids.values() for e in instance.all_logs(run_id))
    assert all(r.dagster_run.status == S.SUCCESS for r in records.values()), {d: r.dagster_run.status for d, r in records.items()}
    first, second = sorted(records.values(), key=lambda r: r.start_time)
    # The second run started only once the first had ended, and was seen QUEUED meanwhile.
    assert second.start_time >= first.end_time, (first.end_time, second.start_time)
    assert (S.STARTED, S.QUEUED) in seen[(first.dagster_run.run_id, second.dagster_run.run_id)]
    assert "Could not set lock" not in logs


def watch(instance: dg.DagsterInstance, run_ids: list[str], daemon: subprocess.Popen, daemon_log: Path,
          timeout: float = 150) -> dict[tuple[str, str], set[tuple[S, S]]]:
    """Poll both runs until they have finished; returns the status pairs seen for each order."""
    seen: dict[tuple[str, str], set[tuple[S, S]]] = {(a, b): set() for a in run_ids for b in run_ids if a != b}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert daemon.poll() is None, daemon_log.read_text()[-3000:]
        status = {r: instance.get_run_by_id(r).status for r in run_ids}
        for a, b in seen:
            seen[(a, b)].add((status[a], status[b]))
        if all(s in (S.SUCCESS, S.FAILURE, S.CANCELED) for s in status.values()):
            return seen
        time.sleep(0.2)
    raise AssertionError(f"runs not finished within {timeout} s: {status}\n{daemon_log.read_text()[-3000:]}")
