"""The instance's compute log manager (dagster.yaml `compute_logs`, esg_assets/compute_logs.py):
a step's stdout and stderr go to Dagster's local files (what the UI shows) and still reach the
terminal, and capturing them starts no process (Dagster's local manager started a `tail -F` and a
watcher Python per stream, about 27 MB of the run's peak RSS).

Two levels, both on a real instance made from the repository's dagster.yaml: a capture in a child
Python whose stdout and stderr are pipes (the terminal), and a real CLI run of the four assets
whose captured logs are read back through a real webserver's GraphQL.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from esg_assets.compute_logs import MIRROR_INTERVAL_SECONDS, mirrored_to_file
from esg_assets_tests.deployment.hosts import Webserver
from esg_assets_tests.sandbox.harness import SandboxProcess
from esg_assets_tests.support.job import ALL_ASSETS, PARTITION, REPO, clean_environ, fast_job_env

BIN = Path(sys.executable).parent

CAPTURE = r"""
import ctypes, json, os, sys, time
import dagster as dg
instance = dg.DagsterInstance.get()
manager = instance.compute_log_manager
key = ["run-1", "compute_logs", "abcdefgh"]
with manager.capture_logs(key):
    print("printed line", flush=True)
    os.write(1, b"fd line\n")
    ctypes.CDLL(None).puts(b"libc line")          # C output, below Python's streams
    ctypes.CDLL(None).fflush(None)
    print("error line", file=sys.stderr, flush=True)
    children = [p for p in os.listdir("/proc") if p.isdigit()
                and open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1] == str(os.getpid())]
    time.sleep(0.6)                               # more than one look of the terminal's copy
    print("last line", flush=True)                # written just before the capture ends
out = manager.get_captured_local_path(key, "out")
err = manager.get_captured_local_path(key, "err")
print(json.dumps({"manager": type(manager).__name__, "children": children, "out": out, "err": err,
                  "complete": manager.is_capture_complete(key)}))
"""


def _instance_home(home: Path) -> dict[str, str]:
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_bytes((REPO / "dagster.yaml").read_bytes())
    return clean_environ(DAGSTER_HOME=str(home))


def test_a_capture_writes_the_files_and_the_terminal_without_a_child_process(tmp_path: Path) -> None:
    env = _instance_home(tmp_path / "home")
    done = subprocess.run([sys.executable, "-c", CAPTURE], env=env, capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    *terminal, report_line = done.stdout.splitlines()
    report = json.loads(report_line)
    assert report["manager"] == "ThreadMirroredComputeLogManager"
    assert report["children"] == []
    assert report["complete"] is True
    assert Path(report["out"]).is_relative_to(tmp_path / "home" / "storage")  # Dagster's default place
    captured_out = Path(report["out"]).read_text().splitlines()
    assert captured_out == ["printed line", "fd line", "libc line", "last line"]
    assert terminal == captured_out
    assert Path(report["err"]).read_text() == "error line\n"
    assert "error line\n" in done.stderr


def test_a_terminal_gone_stops_the_copy_not_the_capture(tmp_path: Path) -> None:
    """The terminal's end closed (a pipe nobody reads): the step's output still goes to its file."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    path = tmp_path / "step.out"
    with open(write_end, "w", encoding="utf-8") as stream:
        with mirrored_to_file(stream, str(path)):
            stream.write("still captured\n")
            stream.flush()
            time.sleep(MIRROR_INTERVAL_SECONDS * 2)
            stream.write("and this\n")
    assert path.read_text() == "still captured\nand this\n"


def test_a_stream_without_a_descriptor_is_left_as_it_is(tmp_path: Path) -> None:
    """As Dagster's manager: a stream with no file descriptor (a test runner's) is not redirected."""
    stream, path = io.StringIO(), tmp_path / "step.out"
    with mirrored_to_file(stream, str(path)):
        stream.write("to the stream\n")
    assert stream.getvalue() == "to the stream\n"
    assert path.read_text() == ""


@pytest.mark.e2e
def test_a_cli_run_s_step_logs_reach_the_terminal_and_the_ui_and_no_tail_runs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with SandboxProcess(accounts=12, seed=41, today=PARTITION) as sb:
        env = clean_environ(**fast_job_env(home, sb.env()))
        run = subprocess.Popen([str(BIN / "dagster"), "asset", "materialize", "-m", "esg_assets",
                                "--select", ALL_ASSETS, "--partition", PARTITION],
                               cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        seen: set[str] = set()
        watcher = threading.Thread(target=_watch_descendants, args=(run, seen), daemon=True)
        watcher.start()
        out, err = run.communicate(timeout=300)
        watcher.join(timeout=10)
    assert run.returncode == 0, err[-3000:]
    assert not {c for c in seen if "tail" in c or "watch_orphans" in c}, seen

    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        [record] = instance.get_run_records()
        run_id = record.dagster_run.run_id
        [file_key] = {e.dagster_event.logs_captured_data.file_key
                      for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.LOGS_CAPTURED)}
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text("load_from:\n  - python_module: esg_assets\n")
    with Webserver(env, tmp_path / "webserver.log", workspace) as web:
        captured = web.query("query($k: [String!]!) { capturedLogs(logKey: $k) { stderr } }",
                             {"k": [run_id, "compute_logs", file_key]})["capturedLogs"]
    assert _assets_ended(captured["stderr"] or "") == set(ALL_ASSETS.split(",")) == _assets_ended(err)


def _assets_ended(log: str) -> set[str]:
    """The assets of the job's `step_end` JSON lines in a stream's text."""
    return {json.loads(line[line.index("{"):])["asset"] for line in log.splitlines()
            if '"event":"step_end"' in line}


def _watch_descendants(proc: subprocess.Popen[str], seen: set[str]) -> None:
    """The command lines of `proc`'s descendants, sampled every 50 ms until it exits."""
    while proc.poll() is None:
        children: dict[int, list[int]] = {}
        commands: dict[int, str] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                commands[int(entry)] = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
        todo = list(children.get(proc.pid, []))
        while todo:
            pid = todo.pop()
            seen.add(commands.get(pid, ""))
            todo.extend(children.get(pid, []))
        time.sleep(0.05)
