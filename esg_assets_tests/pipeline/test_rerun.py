"""Targeted reruns (output-and-behaviour.md §7): exactly the named accounts are called, their
rows replaced, every other row byte-identical; an unknown ID changes nothing. One completed day
for the module; each test reruns some of its accounts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from esg_assets_tests.support.chain import module_env
from esg_assets_tests.support.job import clean_environ, PARTITION, fast_job_env, read_output, run_day
from esg_assets_tests.pipeline.oracle import parse_csv
from esg_assets_tests.sandbox.harness import SandboxProcess

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent
RERUN_ASSETS = ("esg_ratings", "ratings_csv", "daily_summary")


def rerun_config(*ids: str) -> dict:
    return {"ops": {"esg_ratings": {"config": {"account_ids": list(ids)}}}}


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One completed day (ACC-0000003 Failed, ACC-0000007 Partial) for the module. Each test
    reruns accounts the others leave alone, or whose earlier rerun it does not depend on."""
    home = tmp_path_factory.mktemp("rerun") / "home"
    with SandboxProcess(accounts=20, seed=13, today=PARTITION) as sb:
        env = fast_job_env(home, sb.env())
        with module_env(env), dg.instance_for_test(temp_dir=str(home)) as instance:
            sb.script({"ACC-0000003": ["503"], "ACC-0000007": ["partial"]})
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
    assert new["ACC-0000010"][9] == "Successful" and len(new) == len(old) == 20
    for account in old:
        if account not in ("ACC-0000003", "ACC-0000010"):
            assert new[account] == old[account]
    # ACC-0000007 is Partial unless test_rerun_of_a_partial_account_whatever_its_status reran it.
    partial = [a for a in ("ACC-0000007",) if old[a][9] == "Partial"]
    summary = json.loads(read_output(PARTITION, "summary"))
    assert summary["status_counts"] == {"Successful": 20 - len(partial), "Partial": len(partial), "Failed": 0}
    assert summary["api"]["requests"] == 2
    errors = parse_csv(read_output(PARTITION, "errors"))
    assert [r[0] for r in errors[1:]] == partial


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
    done = subprocess.run([str(BIN / "esg-ratings"), "rerun", PARTITION, "--account", "ACC-0000012"],
                          env=clean_environ(**env), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "succeeded" in done.stdout
    assert [r["account_id"] for r in sb.requests(mark) if r["kind"] == "analysis"] == ["ACC-0000012"]
    runs = dg.DagsterInstance.get().get_runs()
    assert any(r.tags.get("esg/trigger") == "cli-rerun" for r in runs)


# The command line's one-line refusal of an unknown ID (exit 2) and the history table:
# assets/test_commands_direct.py (in process, on a day the assets wrote).
