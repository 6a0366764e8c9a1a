"""`HostAwareRunLauncher.check_run_worker_health` against a real instance and real processes:
FAILED only when the launching code server does not answer and the worker's pid is not a live
process that was running when the worker reported its start. (The whole host-loss path, with a
real daemon, is test_host_loss.py.)"""

from __future__ import annotations

import json
import subprocess
import time
import uuid

import dagster as dg
import pytest
from dagster._core.events import EngineEventData
from dagster._core.launcher import WorkerStatus
from dagster._core.storage.tags import GRPC_INFO_TAG

from esg_assets.run_launcher import HostAwareRunLauncher, _alive_since
from esg_assets_tests.support.alerting import free_port

LAUNCHER = {"module": "esg_assets.run_launcher", "class": "HostAwareRunLauncher"}


@pytest.fixture
def instance():
    with dg.instance_for_test(overrides={"run_launcher": LAUNCHER}) as inst:
        assert isinstance(inst.run_launcher, HostAwareRunLauncher)
        yield inst


def started_run(instance: dg.DagsterInstance, pid: int, host: str = "localhost") -> dg.DagsterRun:
    """A STARTED run launched from a code server at a loopback port nobody listens on."""
    run = instance.add_run(dg.DagsterRun(job_name="esg_daily_job", run_id=str(uuid.uuid4()),
                                         status=dg.DagsterRunStatus.STARTED,
                                         tags={GRPC_INFO_TAG: json.dumps({"host": host, "port": free_port()})}))
    instance.report_engine_event(f"Started process for run (pid: {pid}).", run, EngineEventData.in_process(pid))
    return run


def health(instance: dg.DagsterInstance, run: dg.DagsterRun) -> WorkerStatus:
    return instance.run_launcher.check_run_worker_health(instance.get_run_by_id(run.run_id)).status


def test_a_live_worker_is_running_and_a_killed_one_failed(instance) -> None:
    worker = subprocess.Popen(["sleep", "60"])
    try:
        time.sleep(0.1)
        run = started_run(instance, worker.pid)
        assert health(instance, run) == WorkerStatus.RUNNING
    finally:
        worker.kill()
        worker.wait()
    assert health(instance, run) == WorkerStatus.FAILED


def test_a_pid_reused_by_a_process_started_after_the_worker_is_not_the_worker() -> None:
    later = subprocess.Popen(["sleep", "60"])
    try:
        time.sleep(0.1)
        assert _alive_since(later.pid, time.time())
        # The run's worker said it started a minute ago: this process, newer, only has its pid.
        assert not _alive_since(later.pid, time.time() - 60)
    finally:
        later.kill()
        later.wait()


def test_a_worker_on_another_host_is_never_judged(instance) -> None:
    run = started_run(instance, 999_999_999, host="worker-7.example.internal")
    assert health(instance, run) == WorkerStatus.RUNNING
