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


def test_unknown_id_fails_before_any_call_and_changes_nothing(day) -> None:
    sb, instance, _env = day
    before = {k: read_output(PARTITION, k) for k in ("ratings", "errors", "summary")}
    mark = sb.next_index()
    result = run_day(instance=instance, run_config=rerun_config("ACC-0000003", "ACC-9999999", "NOPE"), assets=RERUN_ASSETS)
    assert not result.success
    messages = [e.event_specific_data.error.message for e in result.all_events if e.is_step_failure]
    assert any("not active accounts of 2026-11-20: ACC-9999999, NOPE" in m for m in messages)
    assert sb.requests(mark) == []
    assert {k: read_output(PARTITION, k) for k in before} == before


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


def test_rerun_command_line_rejects_an_unknown_account(day) -> None:
    sb, instance, env = day
    done = subprocess.run([str(BIN / "esg-ratings"), "rerun", PARTITION, "--account", "ACC-7777777"],
                          env=clean_environ(**env), capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert "ACC-7777777" in done.stderr and done.stderr.count("\n") == 1


def test_history_command_prints_the_runs_of_the_day(day) -> None:
    _sb, _instance, env = day
    done = subprocess.run([str(BIN / "esg-ratings"), "history", "--days", "3650"], env=clean_environ(**env),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split("\t")[:4] == ["partition", "run", "seconds", "total"]
    assert [r.split("\t")[0] for r in rows] == [PARTITION]
    assert rows[0].split("\t")[3:7] == ["20", "18", "1", "1"]
