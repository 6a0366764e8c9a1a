"""A real `dagster-daemon` and the `dagster` command for the operations tests (run queue,
backfills, host loss): started in their own session from the repository, output to a file."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster._core.scheduler.instigation import InstigatorType, TickStatus

from esg_assets_tests.support.alerting import stop_daemon
from esg_assets_tests.support.job import REPO

BIN = Path(sys.executable).parent


def dagster(env: dict[str, str], *args: str, timeout: float = 180) -> str:
    """`dagster ARGS` in the repository; asserts it succeeded, returns its stdout."""
    done = subprocess.run([str(BIN / "dagster"), *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def start_daemon(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`dagster-daemon run -m esg_assets` in a new session (its code server and run workers are
    its children), appending to `log`."""
    with open(log, "ab") as out:
        return subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-m", "esg_assets"], cwd=REPO, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


@contextmanager
def running_daemon(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    daemon = start_daemon(env, log)
    try:
        yield daemon
    finally:
        stop_daemon(daemon, wait=20)


def alive(daemon: subprocess.Popen[bytes], log: Path) -> None:
    """Fail with the end of the daemon's output if it has exited."""
    assert daemon.poll() is None, log.read_text(errors="replace")[-3000:]


def sensors_evaluated_since(instance: dg.DagsterInstance, since: float) -> set[str]:
    """Names of the sensors whose latest tick began after `since` and ended SKIPPED or SUCCESS:
    what a daemon started at `since` has really evaluated (not merely had time to)."""
    done = set()
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=1)
        if ticks and ticks[0].timestamp > since and ticks[0].status in (TickStatus.SKIPPED, TickStatus.SUCCESS):
            done.add(state.instigator_name)
    return done
