"""A clean day, the four assets called directly (direct.py) against the sandbox: the stored
ratings file is byte for byte the golden file and an independent reading of the contract
(pipeline/oracle.py), and the error file is its header alone. Moved here from
pipeline/test_pipeline.py::test_clean_run_matches_the_golden_file (a whole in-process job run);
the same day through the command line: e2e/test_cli_e2e.py::test_materialize_then_files_get."""

from __future__ import annotations

from pathlib import Path

from esg_assets.assets.accounts import active_accounts
from esg_assets.assets.files import ratings_csv
from esg_assets.assets.ratings import RatingsConfig, esg_ratings
from esg_assets_tests.assets.direct import call, direct_env, stored, use_env
from esg_assets_tests.pipeline.oracle import expected_csv, expected_row
from esg_assets_tests.sandbox.harness import SandboxProcess

GOLDEN = Path(__file__).resolve().parent.parent / "pipeline" / "golden" / "FirmESGRatings_20261120.csv"
GOLDEN_DAY = "2026-11-20"


def test_a_clean_day_stores_the_golden_ratings_file_and_an_empty_error_file(tmp_path, monkeypatch) -> None:
    with SandboxProcess(accounts=30, seed=11, today=GOLDEN_DAY) as sb:
        use_env(monkeypatch, direct_env(tmp_path / "home", sb))
        call(active_accounts, GOLDEN_DAY)
        call(esg_ratings, GOLDEN_DAY, config=RatingsConfig())
        call(ratings_csv, GOLDEN_DAY)
        expected = expected_csv([expected_row(a) for a in sb.accounts()])
    ratings = stored("ratings", GOLDEN_DAY)
    assert ratings == expected
    assert ratings == GOLDEN.read_bytes()
    assert stored("errors", GOLDEN_DAY) == b"Account ID,Attempts,Error Kind,HTTP Status,Error Message,Last Attempt At\r\n"
