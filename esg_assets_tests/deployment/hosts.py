"""The processes of a multi-host Dagster deployment, started on loopback as if on separate hosts:
each with its own DAGSTER_HOME (holding deploy/dagster-postgres.yaml) and its own environment,
sharing nothing but PostgreSQL, S3 (moto) and the state-database volume.

- the code server (`dagster api grpc`): the "worker host"; it evaluates the sensors and starts
  the run workers, so only it holds the ESG_* settings and secrets;
- the daemon (`dagster-daemon run -w`): the run queue, backfills, sensors' ticks, run monitoring;
- the webserver (`dagster-webserver -w`): the UI and GraphQL, with nothing but the instance.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from esg_assets_tests.support.job import REPO
from esg_assets_tests.ui.dagster_dev import DagsterDev

BIN = Path(sys.executable).parent


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(command, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def terminate(*procs: subprocess.Popen[bytes]) -> None:
    """SIGTERM to each process group, without waiting (to stop several hosts at once)."""
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)


def stop(*procs: subprocess.Popen[bytes], wait: float = 30) -> None:
    """SIGTERM to each process group (dagster-daemon and the code server stop on it), all at once,
    then SIGKILL to any still there after `wait` seconds."""
    running = [p for p in procs if p.poll() is None]
    terminate(*running)
    deadline = time.monotonic() + wait
    for proc in running:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    """The code server listens once its definitions have loaded."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the code server exited: {log.read_text(errors='replace')[-3000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the code server did not listen: {log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.3)


def workspace(path: Path, port: int) -> Path:
    """The workspace of the webserver and the daemon: the code server, by address only."""
    path.write_text(f"load_from:\n  - grpc_server:\n      host: 127.0.0.1\n      port: {port}\n"
                    "      location_name: esg_assets\n")
    return path


class Webserver(DagsterDev):
    """`dagster-webserver` alone on a workspace file (the daemon runs elsewhere)."""

    def __init__(self, env: dict[str, str], log_path: Path, workspace_file: Path):
        super().__init__(env, log_path)
        self.workspace_file = workspace_file

    def command(self) -> list[str]:
        return [str(BIN / "dagster-webserver"), "-w", str(self.workspace_file), "-h", "127.0.0.1",
                "-p", str(self.port)]
