"""End to end, the run-monitoring half of `window_exceeded`, with a real `dagster-daemon`: a run
of `esg_daily_job` is queued with `dagster job launch` (the QueuedRunCoordinator path scheduled
runs take too) and launched by the daemon's run launcher; it is kept busy calling a slow,
rate-limited sandbox; Dagster's run monitoring ends it at its `dagster/max_runtime`. Then the
daemon's `esg_window_exceeded_alert` sensor delivers exactly one `window_exceeded` e-mail and one
critical PagerDuty event, and `esg_run_failed_alert` - which has ticked after the run ended -
sends nothing for it (one page per cause). The run ends FAILURE and its processes (the run worker
and anything it started) are gone: the sandbox gets no further calls.

The job carries `dagster/max_runtime` = 14400 (jobs.py), which takes precedence over the
instance's `run_monitoring.max_runtime_seconds`: the test shortens the tag on the launch, and the
instance keeps production's dagster.yaml with a 1 s poll instead of 30 s."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.scheduler.instigation import TickStatus

from esg_assets_tests.support.alerting import alert_env, stop_daemon
from esg_assets_tests.operations.daemon import last_tick
from esg_assets_tests.support.job import REPO, clean_environ, fast_job_env
from esg_assets_tests.sandbox.harness import SandboxProcess

from esg_assets.jobs import DAILY_JOB_NAME, MAX_RUNTIME_SECONDS

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
BIN = Path(sys.executable).parent
PARTITION = "2026-11-21"  # a past day: the 09:00 half of the sensor (today's runs) stays out of it
MAX_RUNTIME = 8  # seconds; the run would need about 60 s (120 calls at 2 per second)
E = dg.DagsterEventType
S = dg.DagsterRunStatus


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, start time) of a process from /proc, or None when there is none."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[1]), int(fields[19])


def process_tree(root: int) -> dict[int, int]:
    """`root` and its descendants, each with its start time (to tell a reused pid apart)."""
    stats = {int(p.name): _stat(int(p.name)) for p in Path("/proc").iterdir() if p.name.isdigit()}
    tree, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if stats.get(pid):
            tree[pid] = stats[pid][2]
            todo += [child for child, st in stats.items() if st and st[1] == pid]
    return tree


def alive(tree: dict[int, int]) -> list[int]:
    """The processes of `tree` still running (a zombie has finished)."""
    return [pid for pid, start in tree.items() if (st := _stat(pid)) and st[2] == start and st[0] not in "ZX"]


def test_run_monitoring_ends_a_long_run_and_the_daemon_pages_window_exceeded_once(
        tmp_path: Path, smtp_server, pagerduty) -> None:
    home, run_id = tmp_path / "home", str(uuid.uuid4())
    with SandboxProcess(accounts=120, seed=31, today=PARTITION) as sb:
        env = clean_environ(**fast_job_env(home, sb.env(), ESG_API_RATE_LIMIT_PER_SECOND="2",
                                           ESG_API_MAX_CONCURRENCY="1", ESG_API_TIMEOUT_SECONDS="5"),
                            **alert_env(smtp_server.port, pagerduty.url))
        config = yaml.safe_load((home / "dagster.yaml").read_text())  # production's, copied
        assert config["run_monitoring"]["enabled"] is True
        config["run_monitoring"]["poll_interval_seconds"] = 1
        (home / "dagster.yaml").write_text(yaml.safe_dump(config))

        # Opened first: it creates the SQLite storage that the daemon and the launch then share.
        with dg.DagsterInstance.from_config(str(home)) as instance:
            daemon_log = tmp_path / "daemon.log"
            with open(daemon_log, "w") as out:
                daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-m", "esg_assets"], cwd=REPO,
                                          env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                launch = subprocess.run(
                    [str(BIN / "dagster"), "job", "launch", "-m", "esg_assets", "-j", DAILY_JOB_NAME, "--run-id",
                     run_id, "--tags", json.dumps({"dagster/partition": PARTITION,
                                                   "dagster/max_runtime": str(MAX_RUNTIME)})],
                    cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
                assert launch.returncode == 0, launch.stderr[-2000:]
                pid, tree, calls_at_end = watch(instance, run_id, daemon, daemon_log, smtp_server, pagerduty, sb)
            finally:
                stop_daemon(daemon, wait=20)
            record = instance.get_run_record_by_id(run_id)
            logs = instance.all_logs(run_id)
        assert sb.stats()["esg_requests"] == calls_at_end  # nothing called the sandbox after the run ended
    assert 0 < calls_at_end < 120

    run = record.dagster_run
    assert run.status == S.FAILURE
    assert run.tags["dagster/max_runtime"] == str(MAX_RUNTIME) and run.tags[".dagster/grpc_info"]  # daemon-launched
    assert MAX_RUNTIME <= record.end_time - record.start_time < MAX_RUNTIME + 10
    messages = [(e.dagster_event.event_type, e.message) for e in logs if e.dagster_event]
    assert (E.RUN_CANCELING, f"Canceling due to exceeding maximum runtime of {MAX_RUNTIME} seconds.") in messages
    assert (E.RUN_FAILURE, f"Exceeded maximum runtime of {MAX_RUNTIME} seconds.") in messages
    steps = {(e.dagster_event.step_key, e.dagster_event.event_type) for e in logs if e.dagster_event}
    assert ("esg_ratings", E.STEP_START) in steps and ("esg_ratings", E.STEP_SUCCESS) not in steps  # ended busy
    # The code server's interrupt reached the run worker, which stopped calling and exited.
    [exited] = [e for e in logs if e.message == f"Process for run exited (pid: {pid})."]
    assert exited.timestamp - record.end_time < 15
    assert not alive(tree)

    [mail] = [m for m in smtp_server.sink.messages if f" window_exceeded {PARTITION}:" in m.message["Subject"]]
    assert mail.message["Subject"] == (f"[ESG Ratings] window_exceeded {PARTITION}: run {run_id[:8]} of {PARTITION} "
                                       "ended: exceeded its run window")
    assert mail.rcpt_tos == ["dev-team@example.com", "esg-stakeholders@example.com"]
    [event] = [e for e in pagerduty.events if e["dedup_key"] == f"esg-ratings/{PARTITION}/window_exceeded"]
    assert event["payload"]["severity"] == "critical" and event["payload"]["class"] == "window_exceeded"
    details = event["payload"]["custom_details"]
    assert details["run_id"] == run_id and details["status"] == "FAILURE" and details["job_name"] == DAILY_JOB_NAME
    assert f"maximum runtime of {MAX_RUNTIME} seconds" in details["reason"]
    # Nothing else about this partition, and no `run_failed` at all (today's missed_start may come).
    assert [m for m in smtp_server.sink.messages if PARTITION in m.message["Subject"]] == [mail]
    assert [e for e in pagerduty.events if PARTITION in e["dedup_key"]] == [event]
    assert not [e for e in pagerduty.events if e["dedup_key"].endswith("/run_failed")]
    assert MAX_RUNTIME_SECONDS == 14400  # production's tag, which the launch above overrode


def watch(instance: dg.DagsterInstance, run_id: str, daemon: subprocess.Popen, daemon_log: Path,
          smtp_server, pagerduty, sb: SandboxProcess) -> tuple[int, dict[int, int], int]:
    """Follow the run until run monitoring has ended it, its processes are gone, the window alert
    is out on both channels and the run_failed sensor has ticked since the run ended. Returns the
    run worker's pid, its process tree (taken while it called the sandbox) and the sandbox's ESG
    call count once they were gone."""
    pid, tree = 0, {}
    calls_at_end = -1
    deadline = time.monotonic() + 90

    def window_sent() -> bool:
        return (any(" window_exceeded " in m.message["Subject"] for m in smtp_server.sink.messages)
                and any(e["dedup_key"].endswith("/window_exceeded") for e in pagerduty.events))

    while time.monotonic() < deadline:
        assert daemon.poll() is None, daemon_log.read_text()[-3000:]
        record = instance.get_run_record_by_id(run_id)
        run = record.dagster_run if record else None
        if run is not None and not tree and run.status == S.STARTED and busy(instance, run_id):
            [pid] = [int(e.dagster_event.event_specific_data.metadata["pid"].text)
                     for e in instance.all_logs(run_id, of_type=E.ENGINE_EVENT)
                     if (e.message or "").startswith("Started process for run")]
            tree = process_tree(pid)
            # The worker alone: its steps' output reaches the terminal through a thread
            # (compute_logs.py), not a `tail -F` and a watcher process per stream.
            assert list(tree) == [pid], tree
        if run is not None and run.is_finished and tree and not alive(tree) and calls_at_end < 0:
            calls_at_end = sb.stats()["esg_requests"]
        tick = last_tick(instance, "esg_run_failed_alert")
        failed_sensor_looked = (run is not None and run.is_finished and tick is not None
                                and tick.timestamp > record.end_time and tick.status != TickStatus.FAILURE)
        if calls_at_end >= 0 and window_sent() and failed_sensor_looked:
            time.sleep(1.5)  # a late extra call or message would show in the checks after this
            return pid, tree, calls_at_end
        time.sleep(0.5)
    status = run.status if run else None
    raise AssertionError(f"within 90 s: run {status}, process tree {tree} alive {alive(tree)}, window alert "
                         f"{window_sent()}, run_failed tick {tick}\n{daemon_log.read_text()[-3000:]}")


def busy(instance: dg.DagsterInstance, run_id: str) -> bool:
    """The run is inside `esg_ratings`, calling the sandbox."""
    return any(e.dagster_event.step_key == "esg_ratings"
               for e in instance.all_logs(run_id, of_type=E.STEP_START) if e.dagster_event)
