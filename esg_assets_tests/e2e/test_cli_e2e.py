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
    # The encrypted store holds .enc files only, 0600, in a 0700 directory.
    store = tmp_path / "home" / "output"
    assert oct(store.stat().st_mode & 0o777) == "0o700"
    names = sorted(p.name for p in store.iterdir())
    assert names == [f"FirmESGErrors_{ymd}.csv.enc", f"FirmESGManifest_{ymd}.json.enc", f"FirmESGRatings_{ymd}.csv.enc",
                     f"FirmESGRatings_{ymd}.parquet.enc", f"FirmESGRatings_{ymd}.xlsx.enc",
                     f"FirmESGReport_{ymd}.html.enc", f"FirmESGSummary_{ymd}.json.enc"]
    for p in store.iterdir():
        assert oct(p.stat().st_mode & 0o777) == "0o600"
        assert b"Account ID" not in p.read_bytes()


def test_missing_variable_is_one_clear_line_and_nothing_is_called(sandbox, tmp_path) -> None:
    env = clean_environ(**fast_job_env(tmp_path / "home", sandbox.env()))
    env.pop("ESG_CLIENT_SECRET")
    before = sandbox.next_index()
    done = materialize(env)
    assert done.returncode != 0
    assert "configuration error: ESG_CLIENT_SECRET is required but not set" in done.stdout + done.stderr
    assert sandbox.requests(before) == []
    assert not (tmp_path / "home" / "output").exists()
