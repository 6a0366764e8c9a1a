"""End to end through the standard Dagster CLI and `esg-ratings`, exactly as configuration.md
describes: `dagster asset materialize` as a subprocess against the sandbox, then
`esg-ratings files get` writes the plain files, which match the contract.

One CLI run for the module (`cli_run`): the job's processes run with umask 077, so no file or
folder that run created under DAGSTER_HOME is open to group or others, except the Prometheus
textfile, which is 0644 by design (figures only, read by the collector's user). The run storage a
CLI creates before it loads the code is closed by the first step (0700 folders). (That the
package sets the umask on import: test_private_files.py.)"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from esg_assets_tests.support.job import clean_environ, ALL_ASSETS, PARTITION, REPO, fast_job_env
from esg_assets_tests.pipeline.oracle import expected_csv, expected_row
from esg_assets_tests.sandbox.harness import SandboxProcess

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent


def run(cmd: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)


def materialize(env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    return run([str(BIN / "dagster"), "asset", "materialize", "-m", "esg_assets", "--select", ALL_ASSETS,
                "--partition", PARTITION, *extra], env)


@dataclass
class CliRun:
    sandbox: SandboxProcess
    env: dict[str, str]
    home: Path
    done: subprocess.CompletedProcess[str]
    created: list[Path]  # under DAGSTER_HOME, by the run (what fast_job_env put there excepted)


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("cli") / "home"
    with SandboxProcess(accounts=40, seed=21, today=PARTITION) as sb:
        env = clean_environ(**fast_job_env(home, sb.env()))
        before = set(home.rglob("*"))
        done = materialize(env)
        yield CliRun(sb, env, home, done, sorted(p for p in home.rglob("*") if p not in before))


def test_a_cli_run_leaves_nothing_readable_by_others(cli_run: CliRun) -> None:
    done, home, created = cli_run.done, cli_run.home, cli_run.created
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
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


def test_materialize_then_files_get(cli_run: CliRun, tmp_path: Path) -> None:
    sandbox, env, done = cli_run.sandbox, cli_run.env, cli_run.done
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = tmp_path / "out"
    for kind in ("ratings", "errors", "summary"):
        got = run([str(BIN / "esg-ratings"), "files", "get", PARTITION, "--kind", kind, "--out", str(out)], env)
        assert got.returncode == 0, got.stderr
    ymd = PARTITION.replace("-", "")
    ratings = (out / f"FirmESGRatings_{ymd}.csv").read_bytes()
    assert ratings == expected_csv([expected_row(a) for a in sandbox.accounts()])
    summary = json.loads((out / f"FirmESGSummary_{ymd}.json").read_text())
    assert summary["total_accounts"] == 40 and summary["status_counts"]["Successful"] == 40
    # The store's names, modes and encryption: assets/test_assets_direct.py (fast) and
    # conformance/test_cli_contract.py::test_store_modes_enc_names_and_no_plaintext (command line).


# A missing variable's one line, nothing called, nothing written: assets/test_bad_config_direct.py
# (every case, fast) and conformance/test_cli_config.py (through the command line).
