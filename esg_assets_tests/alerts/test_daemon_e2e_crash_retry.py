"""A crashed run is resumed without a person, with a real `dagster-daemon` and the production
dagster.yaml: the run worker of a queued run of `esg_daily_job` is killed with SIGKILL while it
calls the sandbox. Measured: the code server that launched it (Dagster's default run launcher)
sees the dead worker and fails the run within seconds; `run_retries` then launches a new run
from the failure, which resumes `esg_ratings` from its committed results (§6) and succeeds. The
`run_failed` alert says "retrying automatically (attempt 2 of 3)", and once the retry has
completed the day, the resolution goes out on both channels."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dagster as dg
import pytest

from esg_assets.jobs import DAILY_JOB_NAME, STATE_DB_POOL
from esg_assets_tests.support.alerting import alert_env, stop_daemon
from esg_assets_tests.support.job import REPO, clean_environ, fast_job_env
from esg_assets_tests.sandbox.harness import SandboxProcess

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
BIN = Path(sys.executable).parent
PARTITION = "2026-11-22"
ACCOUNTS = 300
S = dg.DagsterRunStatus
E = dg.DagsterEventType


def dagster(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([str(BIN / "dagster"), *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    for e in instance.all_logs(run_id, of_type=E.ENGINE_EVENT):
        if (e.message or "").startswith("Started process for run"):
            return int(e.dagster_event.event_specific_data.metadata["pid"].text)
    return None


def test_a_killed_run_worker_is_retried_and_resumes_and_the_day_is_resolved(
        tmp_path: Path, smtp_server, pagerduty) -> None:
    home, run_id = tmp_path / "home", str(uuid.uuid4())
    # 300 calls at 30 per second: the first run is killed after 60 answered calls.
    with SandboxProcess(accounts=ACCOUNTS, seed=83, today=PARTITION) as sb:
        env = clean_environ(**fast_job_env(home, sb.env(), ESG_API_RATE_LIMIT_PER_SECOND="30",
                                           ESG_API_MAX_CONCURRENCY="4"),
                            **alert_env(smtp_server.port, pagerduty.url))
        with dg.DagsterInstance.from_config(str(home)) as instance:
            # No `dagster instance concurrency set`: the run queue stores the pool's one slot when
            # the launch submits the run (run_queue.py), checked below.
            daemon_log = tmp_path / "daemon.log"
            with open(daemon_log, "w") as out:
                daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-m", "esg_assets"], cwd=REPO,
                                          env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                dagster(env, "job", "launch", "-m", "esg_assets", "-j", DAILY_JOB_NAME, "--run-id", run_id,
                        "--tags", json.dumps({"dagster/partition": PARTITION}))
                killed_at, mark = kill_worker_mid_fetch(instance, run_id, sb, daemon, daemon_log)
                retry = wait_for(lambda: retried_and_resolved(instance, run_id, smtp_server), daemon, daemon_log)
            finally:
                stop_daemon(daemon, wait=20)
            failed = instance.get_run_record_by_id(run_id)
            pool_slots = instance.event_log_storage.get_concurrency_info(STATE_DB_POOL).slot_count
            logs = [e.message or "" for e in instance.all_logs(run_id)]
        second_calls = [r["account_id"] for r in sb.requests(mark) if r["kind"] == "analysis"]
        first_calls = [r["account_id"] for r in sb.requests()[:mark] if r["kind"] == "analysis"]
        all_ids = {a["account_id"] for a in sb.accounts()}

    assert pool_slots == 1
    assert failed.dagster_run.status == S.FAILURE
    assert failed.end_time - killed_at < 60, "the dead worker was not detected"  # 5 minutes allowed
    assert any(f"Run execution process for {run_id}" in m for m in logs), logs[-10:]
    assert retry.dagster_run.status == S.SUCCESS and retry.dagster_run.tags["dagster/partition"] == PARTITION
    assert retry.dagster_run.parent_run_id == run_id
    # The retry resumed: it did not call again what the first run had committed.
    assert set(first_calls) | set(second_calls) == all_ids
    assert len(second_calls) < ACCOUNTS - 40, (len(first_calls), len(second_calls))
    [failed_mail] = [m for m in smtp_server.sink.messages if " run_failed " in m.message["Subject"]]
    assert failed_mail.message["Subject"].endswith("; retrying automatically (attempt 2 of 3)")
    [resolved] = [m for m in smtp_server.sink.messages if " resolved " in m.message["Subject"]]
    assert resolved.message["Subject"] == f"[ESG Ratings] resolved {PARTITION}: run_failed"
    mine = [(e["event_action"], e["dedup_key"]) for e in pagerduty.events if PARTITION in e["dedup_key"]]
    assert mine == [("trigger", f"esg-ratings/{PARTITION}/run_failed"), ("resolve", f"esg-ratings/{PARTITION}/run_failed")]


def kill_worker_mid_fetch(instance, run_id, sb, daemon, daemon_log) -> tuple[float, int]:
    """SIGKILL the run's worker once it has 60 answers; returns the time and the request mark."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert daemon.poll() is None, daemon_log.read_text()[-3000:]
        pid = worker_pid(instance, run_id)
        if pid and sb.stats()["by_kind"].get("analysis", 0) >= 60:
            os.kill(pid, signal.SIGKILL)
            return time.time(), sb.next_index()
        time.sleep(0.1)
    raise AssertionError(f"the run never got going: {instance.get_run_by_id(run_id)}\n{daemon_log.read_text()[-3000:]}")


def retried_and_resolved(instance: dg.DagsterInstance, run_id: str, smtp_server) -> dg.RunRecord | None:
    children = instance.get_run_records(filters=dg.RunsFilter(tags={"dagster/parent_run_id": run_id}))
    done = [r for r in children if r.dagster_run.is_finished]
    resolved = any(" resolved " in m.message["Subject"] for m in smtp_server.sink.messages)
    return done[0] if done and resolved else None


def wait_for(found, daemon, daemon_log, timeout: float = 180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert daemon.poll() is None, daemon_log.read_text()[-3000:]
        if (value := found()) is not None:
            return value
        time.sleep(0.5)
    raise AssertionError(f"not retried and resolved within {timeout} s\n{daemon_log.read_text()[-3000:]}")
