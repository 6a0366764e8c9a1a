"""The carry-forward check through the real sandbox (§5b), with the contract's default
sample of 20: it finds a silent change (new values without an AMS bump or a feed entry),
keeps P's row for an account whose check call fails, and reports in the summary, the check
`carried_rows_match_api` (WARN) and the HTML report."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from esg_assets.domain.plan import choose_sample
from esg_assets_tests.support.job import fast_job_env, read_output, run_day
from esg_assets_tests.pipeline.oracle import parse_csv
from esg_assets_tests.sandbox.harness import SandboxProcess

pytestmark = pytest.mark.integration
DAY1, DAY2, DAY3 = "2026-11-20", "2026-11-21", "2026-11-22"
ACCOUNTS = [f"ACC-{i:07d}" for i in range(1, 31)]


def rows(partition: str) -> dict[str, list[str]]:
    return {r[0]: r for r in parse_csv(read_output(partition, "ratings"))[1:]}


def test_the_check_finds_a_silent_change_and_never_makes_the_file_worse(tmp_path, apply_env) -> None:
    sample = choose_sample(DAY2, ACCOUNTS, 20)
    silent, failing = sample[0], sample[1]
    with SandboxProcess(accounts=30, seed=9, today=DAY1) as sb:
        apply_env(fast_job_env(tmp_path / "home", sb.env(), ESG_CARRY_CHECK_SAMPLE="20"))
        with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
            assert run_day(DAY1, instance).success
            sb.advance(days=1, esg_changed_silently=[silent])
            sb.script({failing: ["404"]})
            mark = sb.next_index()
            result = run_day(DAY2, instance)
            assert result.success
            called = {r["account_id"] for r in sb.requests(mark) if r["kind"] == "analysis"}
            assert called == set(sample)  # nothing changed visibly: only the sample is called

            summary = json.loads(read_output(DAY2, "summary"))
            assert summary["carry_check"] == {"sampled": 20, "matched": 18, "differed": [silent],
                                              "unverified": [failing]}
            # The unverified account counts as carried; its call is still a request.
            assert (summary["accounts_called"], summary["carried_forward"]) == (19, 11)
            assert summary["api"]["requests"] == 21  # 20 analyses + 1 changes-feed page
            assert summary["status_counts"]["Failed"] == 0
            day1, day2 = rows(DAY1), rows(DAY2)
            assert day2[failing] == day1[failing]  # P's row kept
            assert day2[silent] != day1[silent] and day2[silent][8] == DAY2  # the API's new analysis

            check = {e.check_name: e for e in result.get_asset_check_evaluations()}["carried_rows_match_api"]
            assert check.passed is False and check.severity == dg.AssetCheckSeverity.WARN
            assert check.metadata["differed_accounts"].value == [silent]
            html = read_output(DAY2, "report").decode()
            assert f"20 carried rows re-checked against the API: 18 matched, 1 differed: {silent}" in html

            # Day 3: the check of a quiet day passes, and the trend has both days.
            sb.clear_scripts()
            sb.advance(days=1)
            result = run_day(DAY3, instance)
            summary = json.loads(read_output(DAY3, "summary"))
            assert summary["carry_check"]["sampled"] == 20 and summary["carry_check"]["differed"] == []
            evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
            assert evaluations["carried_rows_match_api"].passed is True
            report = read_output(DAY3, "report").decode()
            data = json.loads(report.split('id="esg-report-data">')[1].split("</script>")[0])
            assert [h["carry_check_differed"] for h in data["history"]] == [0, 1, 0]


def test_sample_zero_turns_the_check_off(tmp_path, apply_env) -> None:
    with SandboxProcess(accounts=10, seed=9, today=DAY1) as sb:
        apply_env(fast_job_env(tmp_path / "home", sb.env(), ESG_CARRY_CHECK_SAMPLE="0"))
        with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
            assert run_day(DAY1, instance).success
            sb.advance(days=1)
            mark = sb.next_index()
            assert run_day(DAY2, instance).success
            assert not [r for r in sb.requests(mark) if r["kind"] == "analysis"]
            summary = json.loads(read_output(DAY2, "summary"))
            assert summary["carry_check"] == {"sampled": 0, "matched": 0, "differed": [], "unverified": []}


def test_fewer_candidates_than_the_setting_samples_them_all(tmp_path, apply_env) -> None:
    with SandboxProcess(accounts=5, seed=9, today=DAY1) as sb:
        apply_env(fast_job_env(tmp_path / "home", sb.env(), ESG_CARRY_CHECK_SAMPLE="20"))
        with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
            assert run_day(DAY1, instance).success
            sb.advance(days=1, ams_updated=["ACC-0000001"])  # not a candidate: called anyway
            assert run_day(DAY2, instance).success
            summary = json.loads(read_output(DAY2, "summary"))
            assert summary["carry_check"] == {"sampled": 4, "matched": 4, "differed": [], "unverified": []}
            assert (summary["accounts_called"], summary["carried_forward"]) == (5, 0)


def test_a_resume_draws_the_same_sample_and_does_not_call_what_was_kept(tmp_path, apply_env) -> None:
    from esg_assets.settings import load_storage
    from esg_assets.state.db import connect

    ten = ACCOUNTS[:10]
    sample = choose_sample(DAY2, ten, 3)
    with SandboxProcess(accounts=10, seed=9, today=DAY1) as sb:
        apply_env(fast_job_env(tmp_path / "home", sb.env(), ESG_CARRY_CHECK_SAMPLE="3"))
        with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
            assert run_day(DAY1, instance).success
            sb.advance(days=1)
            assert run_day(DAY2, instance, assets=("active_accounts",)).success
            # A first attempt of DAY2 that died after committing its call of sample[0].
            settings = load_storage()
            with connect(settings.state_db, settings.encryption_key_bytes) as con:
                con.execute("INSERT INTO ratings_partitions VALUES (?, '2026-11-21T11:00:00.000000Z', NULL, 'dead')",
                            [DAY2])
                con.execute("""INSERT INTO ratings SELECT ?, account_id, status, overall, environmental, social,
                                      governance, primary_pillar, primary_score, analysis_date, 'called',
                                      ams_updated_at, 1, NULL, NULL, NULL, last_attempt_at, 'dead', ?
                               FROM ratings WHERE partition = ? AND account_id = ?""", [DAY2, DAY2, DAY1, sample[0]])
            mark = sb.next_index()
            assert run_day(DAY2, instance, assets=("esg_ratings", "ratings_csv", "daily_summary")).success
            called = {r["account_id"] for r in sb.requests(mark) if r["kind"] == "analysis"}
            assert called == set(sample[1:])  # the same sample; the kept result is not called again
            summary = json.loads(read_output(DAY2, "summary"))
            assert summary["carry_check"] == {"sampled": 3, "matched": 3, "differed": [], "unverified": []}
            assert (summary["accounts_called"], summary["carried_forward"]) == (3, 7)
