"""Dagster's default run launcher, plus the one thing it lacks: telling run monitoring that a
run's worker is gone when its whole host went down (docs/operations.md, "A host lost").

Measured with Dagster 1.13.27: a run worker that dies alone is reported by the code server that
launched it within a second (and `run_retries` resumes the day). When the host dies — daemon,
code server and run worker together — nothing is left to report it: the run stays STARTED until
run monitoring ends it at its 4-hour `max_runtime`, because `DefaultRunLauncher` does not support
`check_run_worker_health`. This launcher does, so the daemon's run monitoring (every
`poll_interval_seconds`, its first pass as the daemon starts) fails such a run, and `run_retries`
launches the retry that resumes it (docs/spec.md#resume).

The verdict is FAILED only when it is provable: the code server that launched the run no longer
answers as itself (its recorded server id) AND the worker's process is not alive on this host
(no such pid, or a pid started after the run's worker did: reused, e.g. after a reboot). A worker
on another host (a code server not on loopback) or on a system without /proc is never judged:
it is reported RUNNING and only the 4-hour limit applies, as before.

Private Dagster modules: a launcher's health check is typed with `CheckRunHealthResult` and
`WorkerStatus`, which 1.13.27 exports only from `dagster._core.launcher` (as its own K8s and
Docker launchers use them), and the code server is reached with its gRPC client.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import dagster as dg
from dagster._core.launcher import CheckRunHealthResult, LaunchRunContext, WorkerStatus
from dagster._core.storage.tags import GRPC_INFO_TAG
from dagster._grpc.client import DagsterGrpcClient

SERVER_ID_TAG = "esg/code_server_id"  # which code server started the run's worker
WORKER_STARTED = "Started process for run"  # the worker's own engine event, with its pid
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", socket.gethostname()})
PING_TIMEOUT_SECONDS = 5
SAME_PROCESS_SLACK_SECONDS = 2.0  # /proc start times are whole clock ticks from an integer boot time


class HostAwareRunLauncher(dg.DefaultRunLauncher):
    """`DefaultRunLauncher` whose run workers run monitoring can check (see the module)."""

    def launch_run(self, context: LaunchRunContext) -> None:
        super().launch_run(context)
        server_id = _server_id(self._instance.get_run_by_id(context.dagster_run.run_id))
        if server_id:
            self._instance.add_run_tags(context.dagster_run.run_id, {SERVER_ID_TAG: server_id})

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        return worker_health(self._instance, run)


def worker_health(instance: dg.DagsterInstance, run: dg.DagsterRun) -> CheckRunHealthResult:
    """FAILED when the run's code server and its worker process are both provably gone."""
    info = json.loads(run.tags.get(GRPC_INFO_TAG) or "{}")
    if not info or (info.get("host") not in LOCAL_HOSTS and not info.get("socket")) or not Path("/proc/stat").exists():
        return CheckRunHealthResult(WorkerStatus.RUNNING, "no code server of this host recorded: not judged")
    recorded = run.tags.get(SERVER_ID_TAG)
    current = _server_id(run)
    if current is not None and (recorded is None or current == recorded):
        # The launching code server is up: it reports its worker's death itself within a second.
        return CheckRunHealthResult(WorkerStatus.RUNNING, "the code server that launched the run answers")
    pid, started_at = _worker_process(instance, run.run_id)
    if pid is not None and _alive_since(pid, started_at):
        return CheckRunHealthResult(WorkerStatus.RUNNING, f"run worker pid {pid} is alive")
    return CheckRunHealthResult(
        WorkerStatus.FAILED,
        f"the run worker (pid {pid}) and the code server that launched it are gone (host or daemon lost)",
    )


def _server_id(run: dg.DagsterRun | None) -> str | None:
    """The id of the code server at the run's recorded address, None if nothing answers there."""
    info = json.loads((run.tags.get(GRPC_INFO_TAG) if run else None) or "{}")
    if not info:
        return None
    client = DagsterGrpcClient(port=info.get("port"), socket=info.get("socket"), host=info.get("host") or "localhost",
                               use_ssl=bool(info.get("use_ssl", False)))
    try:
        return client.get_server_id(timeout=PING_TIMEOUT_SECONDS)
    except Exception:  # unreachable, refused, timed out: no server of ours there
        return None


def _worker_process(instance: dg.DagsterInstance, run_id: str) -> tuple[int | None, float]:
    """The worker's pid and when it said it started, from its "Started process for run" event."""
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        if (entry.message or "").startswith(WORKER_STARTED):
            pid = entry.dagster_event.event_specific_data.metadata.get("pid")  # type: ignore[union-attr]
            if pid is not None:
                return int(pid.value), entry.timestamp
    return None, 0.0


def _alive_since(pid: int, started_at: float) -> bool:
    """Is `pid` a live process that was already running when the worker reported its start?"""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        state, ticks = fields[0], int(fields[19])  # fields 3 and 22 of proc(5)
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
    except (OSError, IndexError, ValueError, StopIteration):
        return False
    if state in ("Z", "X"):  # a zombie is a dead worker whose parent has not reaped it
        return False
    return boot + ticks / os.sysconf("SC_CLK_TCK") <= started_at + SAME_PROCESS_SLACK_SECONDS
