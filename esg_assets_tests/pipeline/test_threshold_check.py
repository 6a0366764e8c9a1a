"""The 5 % rule (output-and-behaviour.md §4): the check on esg_ratings fails only when
Failed / accounts called is strictly greater than 0.05; the CSV is written either way."""

from __future__ import annotations

from decimal import Decimal

import dagster as dg
import pytest

from esg_assets.names import threshold_exceeded
from esg_assets.domain.summary import call_failure_rate
from esg_assets_tests.support.job import PARTITION, fast_job_env, read_output, run_day
from esg_assets_tests.pipeline.oracle import parse_csv
from esg_assets_tests.sandbox.harness import SandboxProcess


def test_exactly_5_percent_passes_and_more_fails() -> None:
    assert not threshold_exceeded(call_failure_rate(1, 20))  # 0.0500
    assert threshold_exceeded(call_failure_rate(1, 17))  # 0.0588
    assert threshold_exceeded(Decimal("0.0501"))
    assert not threshold_exceeded(call_failure_rate(0, 0))


@pytest.mark.integration
@pytest.mark.parametrize(("accounts", "passed"), [(20, True), (17, False)])
def test_check_on_a_real_run(tmp_path, apply_env, accounts: int, passed: bool) -> None:
    with SandboxProcess(accounts=accounts, seed=37, today=PARTITION) as sb:
        apply_env(fast_job_env(tmp_path / "home", sb.env()))
        sb.script({"ACC-0000002": ["404"]})
        with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
            # The check and the CSV; the summary (which reports the rate) is proven elsewhere.
            result = run_day(instance=instance, assets=("active_accounts", "esg_ratings", "ratings_csv"))
            assert result.success  # a failing check does not fail the run
            [evaluation] = [e for e in result.get_asset_check_evaluations()
                            if e.check_name == "call_failure_rate_within_5_percent"]
            assert evaluation.passed is passed
            assert evaluation.metadata["call_failure_rate"].value == pytest.approx(1 / accounts, abs=5e-5)
            assert len(parse_csv(read_output(PARTITION, "ratings"))) == accounts + 1
