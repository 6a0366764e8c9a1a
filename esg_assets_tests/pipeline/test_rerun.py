"""Targeted reruns (output-and-behaviour.md §7): exactly the named accounts are called, their
rows replaced, every other row byte-identical; an unknown ID changes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from esg_assets_tests.support.job import clean_environ, PARTITION, fast_job_env, read_output, run_day
from esg_assets_tests.pipeline.oracle import parse_csv
from esg_assets_tests.sandbox.harness import SandboxProcess

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent
RERUN_ASSETS = ("esg_ratings", "ratings_csv", "daily_summary")


def rerun_config(*ids: str) -> dict:
    return {"ops": {"esg_ratings": {"config": {"account_ids": list(ids)}}}}


@pytest.fixture
def day(tmp_path, apply_env):
    with SandboxProcess(accounts=20, seed=13, today=PARTITION) as sb:
        env = fast_job_env(tmp_path / "home", sb.env())
        apply_env(env)
        sb.script({"ACC-0000003": ["503"], "ACC-0000007": ["partial"]})
        with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
            assert run_day(instance=instance).success
            sb.clear_scripts()
            yield sb, instance, env


def test_rerun_calls_only_the_named_accounts_and_keeps_the_rest(day) -> None:
    sb, instance, _env = day
    before = read_output(PARTITION, "ratings")
    mark = sb.next_index()
    result = run_day(instance=instance, run_config=rerun_config("ACC-0000003", "ACC-0000010"), assets=RERUN_ASSETS)
    assert result.success
    assert sorted(r["account_id"] for r in sb.requests(mark) if r["kind"] == "analysis") == ["ACC-0000003", "ACC-0000010"]
    old = {r[0]: r for r in parse_csv(before)[1:]}
    new = {r[0]: r for r in parse_csv(read_output(PARTITION, "ratings"))[1:]}
    assert old["ACC-0000003"][9] == "Failed" and new["ACC-0000003"][9] == "Successful"
    for account in old:
        if account not in ("ACC-0000003", "ACC-0000010"):
            assert new[account] == old[account]
    summary = json.loads(read_output(PARTITION, "summary"))
    assert summary["status_counts"] == {"Successful": 19, "Partial": 1, "Failed": 0}
    assert summary["api"]["requests"] == 2
    errors = parse_csv(read_output(PARTITION, "errors"))
    assert [r[0] for r in errors[1:]] == ["ACC-0000007"]


def test_rerun_of_a_partial_account_whatever_its_status(day) -> None:
    sb, instance, _env = day
    mark = sb.next_index()
    assert run_day(instance=instance, run_config=rerun_config("ACC-0000007"), assets=RERUN_ASSETS).success
    assert [r["account_id"] for r in sb.requests(mark) if r["kind"] == "analysis"] == ["ACC-0000007"]
    assert json.loads(read_output(PARTITION, "summary"))["status_counts"]["Partial"] == 0


# An unknown ID refused before any call, nothing changed: assets/test_assets_direct.py::
# test_esg_ratings_refuses_unknown_ids_before_any_call_and_changes_nothing (fast) and
# conformance/test_cli_contract.py::test_rerun_of_an_unknown_id_is_refused_before_any_call (command line).


def test_rerun_command_line_records_a_run_in_the_instance(day) -> None:
    sb, instance, env = day
    mark = sb.next_index()
    done = subprocess.run([str(BIN / "esg-ratings"), "rerun", PARTITION, "--account", "ACC-0000003"],
                          env=clean_environ(**env), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "succeeded" in done.stdout
    assert [r["account_id"] for r in sb.requests(mark) if r["kind"] == "analysis"] == ["ACC-0000003"]
    runs = dg.DagsterInstance.get().get_runs()
    assert any(r.tags.get("esg/trigger") == "cli-rerun" for r in runs)


# The command line's one-line refusal of an unknown ID (exit 2) and the history table:
# assets/test_commands_direct.py (in process, on a day the assets wrote).
