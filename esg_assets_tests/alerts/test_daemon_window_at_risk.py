"""End to end, `window_at_risk` (contract 1.1) with a real `dagster-daemon`: a run launched from
the command line (`dagster asset materialize`, no code-location origin) that cannot finish in
its window (5,000 accounts at 0.2 calls per second: about 7 hours) reports its forecast while it
calls; within a minute the daemon's `esg_window_at_risk_alert` sensor sends one warning on both
channels naming the projected end and the calls left. The run goes on (the alert does not stop
it) until the test ends it. The forecast is also in the instance (what the UI shows), in the
JSON log and in the Prometheus progress file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import dagster as dg
import pytest

from esg_assets_tests.support.alerting import alert_env, stop_daemon
from esg_assets_tests.support.job import REPO, clean_environ, fast_job_env
from esg_assets_tests.sandbox.harness import SandboxProcess

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.cadence]  # run alone: see the Makefile
BIN = Path(sys.executable).parent
PARTITION = "2026-11-21"
S = dg.DagsterRunStatus


def test_a_run_that_cannot_finish_raises_window_at_risk_within_a_minute(tmp_path: Path, smtp_server, pagerduty) -> None:
    home = tmp_path / "home"
    with SandboxProcess(accounts=5000, seed=31, today=PARTITION) as sb:
        env = clean_environ(**fast_job_env(home, sb.env(), ESG_API_RATE_LIMIT_PER_SECOND="0.2",
                                           ESG_API_MAX_CONCURRENCY="1"),
                            **alert_env(smtp_server.port, pagerduty.url))
        with dg.DagsterInstance.from_config(str(home)) as instance:
            daemon_log, run_log = tmp_path / "daemon.log", tmp_path / "run.log"
            with open(daemon_log, "w") as out:
                daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-m", "esg_assets"], cwd=REPO,
                                          env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            with open(run_log, "w") as out:
                run = subprocess.Popen(
                    [str(BIN / "dagster"), "asset", "materialize", "-m", "esg_assets", "--select",
                     "active_accounts,esg_ratings", "--partition", PARTITION],
                    cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                calling_since = wait_for_forecast(instance, run, run_log)
                deadline = calling_since + 60
                while time.monotonic() < deadline and not (alerted(smtp_server, pagerduty)):
                    assert daemon.poll() is None, daemon_log.read_text()[-3000:]
                    time.sleep(0.5)
                assert alerted(smtp_server, pagerduty), daemon_log.read_text()[-3000:]
                record = running_record(instance)
                assert record.dagster_run.status == S.STARTED  # the alert does not stop the run
            finally:
                os.killpg(run.pid, signal.SIGTERM)  # the test ends the run
                try:
                    run.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(run.pid, signal.SIGKILL)
                    run.wait(5)
                stop_daemon(daemon, wait=20)
            observations = instance.fetch_observations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey("esg_ratings"), asset_partitions=[PARTITION]), limit=100)

    [event] = [e for e in pagerduty.events if e["dedup_key"] == f"esg-ratings/{PARTITION}/window_at_risk"]
    assert event["payload"]["severity"] == "warning" and event["payload"]["class"] == "window_at_risk"
    details = event["payload"]["custom_details"]
    assert details["run_id"] == record.dagster_run.run_id and details["calls_left"] > 4900
    window_end = datetime.fromisoformat(details["window_end"].replace("Z", "+00:00"))
    assert abs(window_end.timestamp() - (record.start_time + 4 * 3600)) < 1  # the run's start + 4 h
    assert datetime.fromisoformat(details["projected_end"].replace("Z", "+00:00")) > window_end
    [mail] = [m for m in smtp_server.sink.messages if " window_at_risk " in m.message["Subject"]]
    assert mail.message["Subject"].startswith(f"[ESG Ratings] window_at_risk {PARTITION}: run ")
    assert "calls left" in mail.message["Subject"] and "projected to end at" in mail.message["Subject"]

    # What people saw meanwhile: observations in the instance (the UI), the JSON log, Prometheus.
    first = observations.records[-1].asset_observation.metadata
    assert {"accounts_done", "accounts_left", "rate_per_second", "projected_end", "window_end"} <= set(first)
    lines = [json.loads(line) for path in sorted((home / "logs").glob("esg-ratings-*.jsonl"))  # one file per day
             for line in path.read_text().splitlines()]
    forecasts = [entry for entry in lines if entry["event"] == "ratings_forecast"]
    assert forecasts and all(f["window_at_risk"] is True for f in forecasts)
    times = [datetime.fromisoformat(f["reported_at"]) for f in forecasts]
    assert all((b - a).total_seconds() <= 6 for a, b in zip(times, times[1:]))  # at least every 5 s (+ load)
    prom = (home / "metrics" / "esg_ratings_progress.prom").read_text()
    assert f'esg_ratings_progress_window_at_risk{{partition="{PARTITION}"}} 1.0' in prom  # prometheus_client prints floats


def running_record(instance: dg.DagsterInstance) -> dg.RunRecord:
    [record] = instance.get_run_records(filters=dg.RunsFilter(tags={"dagster/partition": PARTITION}))
    return record


def wait_for_forecast(instance: dg.DagsterInstance, run: subprocess.Popen, run_log: Path) -> float:
    """Wait (at most 120 s: process start and 5,000 AMS records) until the run has reported
    its first forecast; returns that moment on the monotonic clock."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert run.poll() is None, run_log.read_text()[-3000:]
        records = instance.fetch_observations(dg.AssetKey("esg_ratings"), limit=1).records
        if records:
            return time.monotonic()
        time.sleep(0.5)
    raise AssertionError(f"no forecast within 120 s\n{run_log.read_text()[-3000:]}")


def alerted(smtp_server, pagerduty) -> bool:
    return (any(" window_at_risk " in m.message["Subject"] for m in smtp_server.sink.messages)
            and any(e["dedup_key"].endswith("/window_at_risk") for e in pagerduty.events))
