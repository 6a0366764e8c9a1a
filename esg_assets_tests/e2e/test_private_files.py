"""The job's processes run with umask 077: after `dagster asset materialize` (a real CLI run),
no file or folder the run created under DAGSTER_HOME is open to group or others, except the
Prometheus textfile, which is 0644 by design (figures only, read by the collector's user). The
run storage a CLI creates before it loads the code is closed by the first step (0700 folders)."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from esg_assets_tests.support.job import clean_environ, fast_job_env
from esg_assets_tests.e2e.test_cli_e2e import materialize
from esg_assets_tests.sandbox.harness import SandboxProcess

pytestmark = pytest.mark.e2e


def test_importing_the_package_sets_umask_077() -> None:
    code = "import os, esg_assets; print(oct(os.umask(0)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=clean_environ())
    assert done.stdout.strip() == "0o77", done.stderr


def test_a_cli_run_leaves_nothing_readable_by_others(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with SandboxProcess(accounts=5, seed=2, today="2026-11-20") as sb:
        env = clean_environ(**fast_job_env(home, sb.env()))
        before = {p for p in home.rglob("*")}
        done = materialize(env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    created = sorted(p for p in home.rglob("*") if p not in before)
    assert any("compute_logs" in str(p) or p.suffix in (".out", ".err") for p in created), created
    readable = [f"{p.relative_to(home)}" for p in created if p.is_file() and p.name != "esg_ratings.prom"
                and _readable_by_others(home, p)]
    assert readable == [], "\n".join(readable)


def _readable_by_others(home: Path, path: Path) -> bool:
    """Group or others can read `path`: it has a read bit for them and every folder between
    DAGSTER_HOME and it lets them through."""
    if not stat.S_IMODE(path.stat().st_mode) & 0o044:
        return False
    folder = path.parent
    while folder != home:
        if not stat.S_IMODE(folder.stat().st_mode) & 0o011:
            return False
        folder = folder.parent
    return True
