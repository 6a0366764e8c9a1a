"""The repository's dagster.yaml makes the package's stdlib loggers part of a run's event log.

A real instance (the repo's dagster.yaml in a fresh DAGSTER_HOME) runs an asset that opens the
state database while another process holds it: `state/db.py` logs its lock-wait line through
`logging`, and that line must be in the run's event log, where the UI shows it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import pytest

from esg_assets.state.db import connect
from esg_assets_tests.support.job import REPO

pytestmark = pytest.mark.integration
WAIT_LINE = "state database is in use by another run; waiting for it"
HOLDER = """
import sys, time
from pathlib import Path
from esg_assets.state.db import connect
db, key, locked, release = Path(sys.argv[1]), bytes.fromhex(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
with connect(db, key, lock_wait_seconds=5):
    locked.touch()
    deadline = time.monotonic() + 120
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
"""


def _wait_for(predicate, what: str, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_lock_wait_line_of_a_stdlib_logger_is_in_the_run_event_log(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    db, key = tmp_path / "state.duckdb", os.urandom(32)
    locked, release = tmp_path / "locked", tmp_path / "release"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(db), key.hex(), str(locked), str(release)])

    @dg.asset
    def opens_state() -> None:
        with connect(db, key, lock_wait_seconds=120):
            pass

    try:
        _wait_for(lambda: locked.exists() or holder.poll() is not None, "the holder to lock the database")
        assert holder.poll() is None, "the holder process died"
        with dg.DagsterInstance.from_config(str(home)) as instance:
            assert "esg_assets" in instance.managed_python_loggers
            results: list[dg.ExecuteInProcessResult] = []
            runner = threading.Thread(target=lambda: results.append(dg.materialize([opens_state], instance=instance)))
            runner.start()

            def logged() -> bool:
                runs = instance.get_runs()
                return bool(runs) and any(WAIT_LINE in (e.user_message or "") for e in instance.all_logs(runs[0].run_id))

            _wait_for(logged, "the lock-wait line in the event log")
            release.touch()
            runner.join(120)
            assert results and results[0].success
            records = [e for e in instance.all_logs(results[0].run_id) if WAIT_LINE in (e.user_message or "")]
            assert len(records) == 1 and records[0].level == 20  # INFO, from logger esg_assets.state.db
    finally:
        release.touch()
        holder.wait(30)
