"""The two processes of a benchmark: the sandbox server, and one `dagster asset materialize` run.

Both run as real subprocesses, as in production: the job talks to the sandbox over loopback
HTTP and the figures come from outside the job (the sandbox's own statistics, /proc, Dagster's
event log), never from code inside the job.
"""

from __future__ import annotations

import base64
import json
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests

from bench.measure import TreeSampler

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ASSETS = ("active_accounts", "esg_ratings", "ratings_csv", "daily_summary")


class Sandbox:
    """`esg-ratings sandbox serve` on a free loopback port, in its own session."""

    def __init__(self, workdir: Path, **options: Any) -> None:
        self.workdir = workdir
        self.options = {"port": 0, "seed": 1, **options}
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.http = requests.Session()
        self.http.trust_env = False

    def __enter__(self) -> Sandbox:
        ready = self.workdir / "sandbox.port"
        ready.unlink(missing_ok=True)
        cmd = [str(BIN / "esg-ratings"), "sandbox", "serve", "--ready-file", str(ready)]
        for key, value in self.options.items():
            cmd += ["--" + key.replace("_", "-"), str(value)]
        with open(self.workdir / "sandbox.log", "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        deadline = time.monotonic() + 60
        while not (ready.exists() and ready.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the sandbox did not start; see {self.workdir / 'sandbox.log'}")
            time.sleep(0.05)
        self.port = int(ready.read_text().strip())
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.http.close()
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def admin(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        resp = self.http.request(method, f"{self.url}/_sandbox/{path}", json=body, params=params or None, timeout=300)
        if resp.status_code != 200:
            raise RuntimeError(f"sandbox admin {path}: {resp.status_code} {resp.text[:200]}")
        return resp.json()

    def stats(self) -> dict[str, Any]:
        return dict(self.admin("GET", "stats"))

    def clear(self) -> None:
        self.admin("POST", "requests/clear")

    def called_accounts(self) -> list[str]:
        """Account IDs of every ESG analysis request in the log (paged)."""
        out: list[str] = []
        since = 0
        while True:
            page = self.admin("GET", "requests", since_index=since, limit=100_000)
            out += [r["account_id"] for r in page["requests"] if r.get("kind") == "analysis"]
            if not page["requests"] or page["next_index"] == since:
                return out
            since = page["next_index"]

    def upstream_env(self) -> dict[str, str]:
        return {
            "ESG_AUTH_TOKEN_URL": f"{self.url}/oauth2/token",
            "ESG_CLIENT_ID": "sandbox-client",
            "ESG_CLIENT_SECRET": "sandbox-secret",
            "ESG_AMS_BASE_URL": f"{self.url}/ams",
            "ESG_API_BASE_URL": f"{self.url}/esg",
        }


def job_env(home: Path, sandbox: Sandbox, **extra: str) -> dict[str, str]:
    """The environment of a run, as scripts/demo.py builds it: a fresh DAGSTER_HOME holding a
    copy of dagster.yaml, the sandbox's ESG_* variables and a throw-away encryption key."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESG_")}
    env.update(
        DAGSTER_HOME=str(home),
        ESG_FILE_ENCRYPTION_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
        ESG_API_BACKOFF_BASE_SECONDS="0.2",
        ESG_API_TIMEOUT_SECONDS="5",
        **sandbox.upstream_env(),
    )
    env.update(extra)
    return env


@dataclass
class RunResult:
    partition: str
    exit_code: int
    wall_seconds: float
    cpu_seconds: float  # the whole tree, from getrusage(RUSAGE_CHILDREN)
    peak_rss: int  # bytes: highest sampled sum of RSS over the tree
    peak_hwm_sum: int  # bytes: sum of each process's own peak (upper bound)
    maxrss_single: int  # bytes: ru_maxrss of the largest waited-for process
    steps: dict[str, dict[str, float]] = field(default_factory=dict)  # step -> wall, cpu
    summary: dict[str, Any] = field(default_factory=dict)
    phases: dict[str, dict[str, float]] = field(default_factory=dict)  # phase -> from, to, wall, cpu, peak_rss (job log)

    def step_wall(self, step: str) -> float:
        return self.steps.get(step, {}).get("wall", float("nan"))


def _step_windows(home: Path) -> dict[str, tuple[float, float]]:
    """(start, end) wall-clock instants of each step of the latest run, from the event log.

    Read in a child process: the instance is SQLite under DAGSTER_HOME and importing Dagster
    here would cost the benchmark process its own 2 s and 150 MB for nothing."""
    code = (
        "import json, dagster as dg\n"
        "inst = dg.DagsterInstance.get()\n"
        "run = inst.get_run_records(limit=1)[0].dagster_run\n"
        "out = {}\n"
        "for e in inst.all_logs(run.run_id):\n"
        "    d = e.dagster_event\n"
        "    if d is None or not e.step_key: continue\n"
        "    if d.event_type_value == 'STEP_START': out.setdefault(e.step_key, [e.timestamp, None])[0] = e.timestamp\n"
        "    if d.event_type_value in ('STEP_SUCCESS', 'STEP_FAILURE'): out.setdefault(e.step_key, [None, None])[1] = e.timestamp\n"
        "print(json.dumps(out))\n"
    )
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    text = subprocess.check_output([sys.executable, "-c", code], env=env, cwd=ROOT, stderr=subprocess.DEVNULL)
    return {k: (v[0], v[1]) for k, v in json.loads(text.decode().strip().splitlines()[-1]).items() if v[0] and v[1]}


LOG_FILES = "esg-ratings*.jsonl"
# Phases of one run, each between two events of the job log (asset, event): what the issue's
# "start, AMS paging, planning, calls, CSV + encryption, summary + report" are measured on.
# `start` runs from process start to the first step; `end` from the last event to exit.
_PHASES = (
    ("ams_paging", ("active_accounts", "step_start"), ("active_accounts", "accounts_listed")),
    ("planning", ("esg_ratings", "step_start"), ("esg_ratings", "ratings_plan")),
    ("calls", ("esg_ratings", "ratings_plan"), ("esg_ratings", "ratings_done")),
    ("csv_and_encryption", ("ratings_csv", "step_start"), ("ratings_csv", "files_written")),
    ("summary_and_report", ("daily_summary", "step_start"), ("daily_summary", "summary_written")),
)


def _instant(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def phase_windows(log_dir: Path, started: float, ended: float) -> dict[str, tuple[float, float]]:
    """(start, end) wall-clock instants of each phase of the run, from the job log's events
    (the last occurrence of each, over the per-day files `esg-ratings-YYYY-MM-DD.jsonl`, which a
    run crossing midnight in Chicago splits); the rest of the run is `start`, `between_steps`
    and `end`."""
    seen: dict[tuple[str, str], float] = {}
    for log_file in sorted(log_dir.glob(LOG_FILES)):
        for line in log_file.read_text().splitlines():
            record = json.loads(line)
            seen[(record.get("asset"), record.get("event"))] = _instant(record["ts"])
    out = {name: (seen[a], seen[b]) for name, a, b in _PHASES if a in seen and b in seen}
    firsts = [seen[k] for k in seen if k[1] == "step_start"]
    lasts = [seen[k] for k in seen if k[1] == "step_end"]
    if firsts and lasts:
        out["start"] = (started, min(firsts))
        out["end"] = (max(lasts), ended)
    return out


def read_summary(env: dict[str, str], partition: str, out: Path) -> dict[str, Any]:
    subprocess.check_call([str(BIN / "esg-ratings"), "files", "get", partition, "--kind", "summary", "--out", str(out)],
                          env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    return dict(json.loads((out / f"FirmESGSummary_{partition.replace('-', '')}.json").read_text()))


def materialize(env: dict[str, str], partition: str, log_path: Path) -> RunResult:
    """One CLI run of the four assets for `partition`, measured from outside."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cmd = [str(BIN / "dagster"), "asset", "materialize", "-m", "esg_assets", "--select", ",".join(ASSETS),
           "--partition", partition]
    started = time.monotonic()
    started_wall = time.time()
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        sampler = TreeSampler(proc.pid).start()
        try:
            code = proc.wait()
        except BaseException:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait()
            raise
        finally:
            sampler.stop()
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result = RunResult(partition, code, wall, cpu, sampler.peak_rss, sampler.peak_hwm_sum, after.ru_maxrss * 1024)
    if code != 0:
        return result
    for step, (start, end) in _step_windows(Path(env["DAGSTER_HOME"])).items():
        result.steps[step] = {"wall": end - start, "cpu": sampler.cpu_at(end) - sampler.cpu_at(start)}
    ended_wall = started_wall + wall
    for name, (start, end) in phase_windows(Path(env["DAGSTER_HOME"]) / "logs", started_wall, ended_wall).items():
        result.phases[name] = {"from": start, "to": end, "wall": end - start,
                               "cpu": sampler.cpu_at(end) - sampler.cpu_at(start),
                               "peak_rss": sampler.peak_rss_between(start, end)}
    with tempfile.TemporaryDirectory() as tmp:
        result.summary = read_summary(env, partition, Path(tmp))
    return result
