"""Runs that must fail as a whole: no token, an incomplete account list, a bad configuration.
No output file is written and the accounts are not marked Failed."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from esg_assets_tests.support.chain import PLAN_ONLY
from esg_assets_tests.support.job import PARTITION, fast_job_env, run_day
from esg_assets_tests.sandbox.harness import SandboxProcess

pytestmark = pytest.mark.integration


def step_failure_messages(result: dg.ExecuteInProcessResult) -> list[str]:
    return [e.event_specific_data.error.message for e in result.all_events if e.is_step_failure]


def no_output(home: Path) -> bool:
    out = home / "output"
    return not out.exists() or not any(out.iterdir())


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def run_with(sandbox, home, apply_env):
    """Run the day against the sandbox with some variables overridden."""

    def run(assets: tuple[str, ...] | None = None, **overrides: str) -> dg.ExecuteInProcessResult:
        apply_env(fast_job_env(home, sandbox.env(), **overrides))
        with dg.instance_for_test(temp_dir=str(home)) as instance:
            return run_day(instance=instance, **({"assets": assets} if assets else {}))

    return run


@pytest.fixture
def sandbox():
    with SandboxProcess(accounts=15, seed=5, today=PARTITION) as sb:
        yield sb


def test_refused_client_credentials_fail_the_run_without_output(sandbox, home, run_with) -> None:
    result = run_with(ESG_CLIENT_SECRET="wrong-secret")
    assert not result.success
    messages = step_failure_messages(result)
    assert any("refused the client credentials" in m for m in messages)
    assert all("wrong-secret" not in m for m in messages)
    assert no_output(home)
    assert not any(r["kind"] in ("ams", "analysis") and r["status"] == 200 for r in sandbox.requests())


def test_a_fourth_401_in_a_row_is_critical(sandbox, home, run_with) -> None:
    """A request answered 401 four times in a row (its three re-sends each with a newer token)
    fails the run; no file (contract 1.1 token rule)."""
    sandbox.script({"ACC-0000004": ["401"]})
    result = run_with()
    assert not result.success
    assert any("answered 401 4 times in a row" in m for m in step_failure_messages(result))
    assert no_output(home)
    sent = [r for r in sandbox.requests() if r.get("account_id") == "ACC-0000004"]
    assert [r["status"] for r in sent] == [401] * 4
    assert sum(1 for r in sandbox.requests() if r["kind"] == "token") == 4  # one newer token per re-send


def test_three_401s_in_a_row_then_an_answer_is_not_an_error(sandbox, home, run_with) -> None:
    sandbox.script({"ACC-0000004": ["401", "401", "401", "ok"]})
    result = run_with(PLAN_ONLY)  # the calls are all in esg_ratings; no file is read here
    assert result.success
    assert sum(1 for r in sandbox.requests() if r["kind"] == "token") == 4


def test_token_endpoint_down_fails_after_three_attempts(sandbox, home, run_with) -> None:
    sandbox.token_script(["500"])
    result = run_with()
    assert not result.success
    assert sum(1 for r in sandbox.requests() if r["kind"] == "token") == 3
    assert no_output(home)


# Moved to the fast layer: the AMS unreachable (assets/test_assets_direct.py::
# test_active_accounts_with_the_ams_unreachable_is_critical_and_nothing_is_called) and a bad
# configuration (assets/test_bad_config_direct.py, every case; through the command line:
# conformance/test_cli_config.py).
