"""End to end through the standard Dagster CLI and `esg-ratings`, exactly as configuration.md
describes: `dagster asset materialize` as a subprocess against the sandbox, then
`esg-ratings files get` writes the plain files, which match the contract."""

from __future__ import annotations

import json
import subprocess
import sys
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


@pytest.fixture(scope="module")
def sandbox():
    with SandboxProcess(accounts=40, seed=21, today=PARTITION) as sb:
        yield sb


def test_materialize_then_files_get(sandbox, tmp_path) -> None:
    env = clean_environ(**fast_job_env(tmp_path / "home", sandbox.env()))
    done = materialize(env)
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
