"""`dagster dev` (webserver + daemon) as a real subprocess on loopback, and a small GraphQL client.

`dagster dev` started in the background ignores SIGINT, so it is started in its own session
through a wrapper that restores the default SIGINT handler before exec; stopping sends SIGINT
to the whole group, then SIGKILL if it is still there after a bounded wait.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from esg_assets_tests.support.job import REPO

BIN = Path(sys.executable).parent
_WRAPPER = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "os.execvp(sys.argv[1], sys.argv[1:])")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DagsterDev:
    def __init__(self, env: dict[str, str], log_path: Path, start_timeout: float = 120.0):
        self.env = env
        self.port = free_port()
        self.log_path = log_path
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        """`dagster dev` (webserver and daemon); a subclass may start the webserver alone."""
        return [str(BIN / "dagster"), "dev", "-m", "esg_assets", "-h", "127.0.0.1", "-p", str(self.port)]

    def __enter__(self) -> DagsterDev:
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _WRAPPER, *self.command()],
            env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dagster dev exited: {self.log()[-3000:]}")
            try:
                if requests.get(f"{self.url}/server_info", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dagster dev did not answer: {self.log()[-3000:]}")
            time.sleep(0.5)
        # The code location loads after the server answers: wait until it lists our assets.
        while time.monotonic() < deadline:
            data = self.query("{ assetNodes { assetKey { path } } }")
            if len(data.get("assetNodes") or []) >= 4:
                return self
            time.sleep(0.5)
        raise RuntimeError("the code location did not load")

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def query(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        resp = requests.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60)
        resp.raise_for_status()
        body = resp.json()
        if body.get("errors"):
            raise RuntimeError(f"GraphQL errors: {body['errors']}")
        return dict(body["data"])

    def wait_for_runs(self, run_ids: list[str], timeout: float = 300) -> dict[str, str]:
        """Wait until every run has finished; returns run id -> status."""
        deadline = time.monotonic() + timeout
        while True:
            statuses = {rid: self.run_status(rid) for rid in run_ids}
            if all(s in ("SUCCESS", "FAILURE", "CANCELED") for s in statuses.values()):
                return statuses
            if time.monotonic() > deadline:
                raise TimeoutError(f"runs still going: {statuses}")
            time.sleep(1)

    def failure_messages(self, run_id: str) -> list[str]:
        """The error messages of a run's failed steps and run failure (for assertion messages)."""
        data = self.query(
            """query($id: ID!) { logsForRun(runId: $id) { ... on EventConnection { events {
                 __typename ... on ExecutionStepFailureEvent { stepKey error { message } }
                 ... on RunFailureEvent { message } } } } }""",
            {"id": run_id},
        )
        out = []
        for event in data["logsForRun"].get("events", []):
            if event["__typename"] == "ExecutionStepFailureEvent":
                out.append(f"{event['stepKey']}: {(event.get('error') or {}).get('message', '').strip()[:500]}")
            elif event["__typename"] == "RunFailureEvent":
                out.append(str(event.get("message")))
        return out

    def assert_succeeded(self, run_ids: list[str], timeout: float = 300) -> None:
        statuses = self.wait_for_runs(run_ids, timeout)
        failed = {rid: self.failure_messages(rid) for rid, s in statuses.items() if s != "SUCCESS"}
        assert not failed, f"runs did not succeed: {failed}"

    def launch_backfill(self, assets: list[str], partitions: list[str]) -> str:
        """An asset backfill through `launchPartitionBackfill`, as the UI's Materialize does."""
        data = self.query(
            """mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) {
                 __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }""",
            {"p": {"assetSelection": [{"path": [a]} for a in assets], "partitionNames": partitions}},
        )
        launched = data["launchPartitionBackfill"]
        assert launched["__typename"] == "LaunchBackfillSuccess", launched
        return str(launched["backfillId"])

    def wait_for_backfill(self, backfill_id: str, timeout: float = 420) -> dict[str, Any]:
        """The backfill's final {status, runs: [{runId, status}]} (the daemon runs it)."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.query(
                """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
                     ... on PartitionBackfill { status runs { runId status } } } }""",
                {"id": backfill_id},
            )["partitionBackfillOrError"]
            if state["status"] in ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"):
                return dict(state)
            if time.monotonic() > deadline:
                raise TimeoutError(f"backfill still {state}")
            time.sleep(1)

    def run_status(self, run_id: str) -> str:
        data = self.query(
            "query($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status } } }", {"id": run_id}
        )
        return str(data["runOrError"].get("status"))
