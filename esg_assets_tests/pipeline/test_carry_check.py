"""The carry-forward check through the real sandbox (docs/spec.md#carry-forward-check), with the
contract's default sample of 20: it finds a silent change (new values without an AMS bump or a
feed entry), keeps P's row for an account whose check call fails, and reports in the summary,
the check `carried_rows_match_api` (WARN) and the HTML report.

One chain of days of 30 accounts, run once for the module (`chain`), that each test reads: day 2
with a silent change and a failing check call, a quiet day 3, day 4 with a sample of 0 (stopping at esg_ratings), day 5
with fewer candidates than the setting, and day 6 resumed after a first attempt that died."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg
import pytest

from esg_assets.domain.plan import choose_sample
from esg_assets.settings import load_storage
from esg_assets.state.db import connect
from esg_assets_tests.sandbox.harness import SandboxProcess
from esg_assets_tests.support.chain import PLAN_ONLY, Day, module_env, observe
from esg_assets_tests.support.job import fast_job_env, read_output

pytestmark = pytest.mark.integration
DAY1, DAY2, DAY3, DAY4, DAY5, DAY6 = (f"2026-11-{d}" for d in range(20, 26))
ACCOUNTS = [f"ACC-{i:07d}" for i in range(1, 31)]
SAMPLE2 = choose_sample(DAY2, ACCOUNTS, 20)
SILENT, FAILING = SAMPLE2[0], SAMPLE2[1]
NOT_CANDIDATES = ACCOUNTS[:12]  # AMS records updated before day 5: called anyway, 18 candidates left
SAMPLE6 = choose_sample(DAY6, ACCOUNTS, 3)


@dataclass(frozen=True)
class Chain:
    day1: Day
    day2: Day
    report2: str
    day3: Day
    report3: str
    sample_zero: Day
    few_candidates: Day
    resumed: Day


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    home = tmp_path_factory.mktemp("chain") / "home"
    with SandboxProcess(accounts=30, seed=9, today=DAY1) as sb, \
            module_env(fast_job_env(home, sb.env(), ESG_CARRY_CHECK_SAMPLE="20")) as mp:
        with dg.instance_for_test(temp_dir=str(home)) as instance:
            day1 = observe(sb, instance, DAY1)
            sb.advance(days=1, esg_changed_silently=[SILENT])
            sb.script({FAILING: ["404"]})
            day2 = observe(sb, instance, DAY2)
            report2 = read_output(DAY2, "report").decode()
            sb.clear_scripts()
            sb.advance(days=1)  # a quiet day: the check passes
            day3 = observe(sb, instance, DAY3)
            report3 = read_output(DAY3, "report").decode()
            sb.advance(days=1)
            mp.setenv("ESG_CARRY_CHECK_SAMPLE", "0")
            sample_zero = observe(sb, instance, DAY4, assets=PLAN_ONLY)
            mp.setenv("ESG_CARRY_CHECK_SAMPLE", "20")
            sb.advance(days=1, ams_updated=NOT_CANDIDATES)
            few_candidates = observe(sb, instance, DAY5)
            sb.advance(days=1)
            mp.setenv("ESG_CARRY_CHECK_SAMPLE", "3")
            resumed = _resumed(sb, instance)
            yield Chain(day1, day2, report2, day3, report3, sample_zero, few_candidates, resumed)


def _resumed(sb: SandboxProcess, instance: dg.DagsterInstance) -> Day:
    """Day 6: a first attempt that died after committing its call of SAMPLE6[0], then the run
    that resumes it."""
    assert observe(sb, instance, DAY6, assets=("active_accounts",)).success
    settings = load_storage()
    with connect(settings.state_db, settings.encryption_key_bytes) as con:
        con.execute("INSERT INTO ratings_partitions VALUES (?, '2026-11-25T11:00:00.000000Z', NULL, 'dead')", [DAY6])
        con.execute("""INSERT INTO ratings SELECT ?, account_id, status, overall, environmental, social,
                              governance, primary_pillar, primary_score, analysis_date, 'called',
                              ams_updated_at, 1, NULL, NULL, NULL, last_attempt_at, 'dead', ?
                       FROM ratings WHERE partition = ? AND account_id = ?""", [DAY6, DAY6, DAY5, SAMPLE6[0]])
    return observe(sb, instance, DAY6, assets=("esg_ratings", "ratings_csv", "daily_summary"))


def test_the_check_finds_a_silent_change_and_never_makes_the_file_worse(chain: Chain) -> None:
    assert chain.day1.success and chain.day2.success
    assert chain.day2.called == set(SAMPLE2)  # nothing changed visibly: only the sample is called
    summary = chain.day2.summary
    assert summary["carry_check"] == {"sampled": 20, "matched": 18, "differed": [SILENT], "unverified": [FAILING]}
    # The unverified account counts as carried; its call is still a request.
    assert (summary["accounts_called"], summary["carried_forward"]) == (19, 11)
    assert summary["api"]["requests"] == 21  # 20 analyses + 1 changes-feed page
    assert summary["status_counts"]["Failed"] == 0
    day1, day2 = chain.day1.rows, chain.day2.rows
    assert day2[FAILING] == day1[FAILING]  # P's row kept
    assert day2[SILENT] != day1[SILENT] and day2[SILENT][8] == DAY2  # the API's new analysis


def test_the_check_is_reported_as_a_warning_and_in_the_report(chain: Chain) -> None:
    check = {e.check_name: e for e in chain.day2.result.get_asset_check_evaluations()}["carried_rows_match_api"]
    assert check.passed is False and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["differed_accounts"].value == [SILENT]
    assert f"20 carried rows re-checked against the API: 18 matched, 1 differed: {SILENT}" in chain.report2


def test_the_check_of_a_quiet_day_passes_and_the_trend_has_every_day(chain: Chain) -> None:
    assert chain.day3.success
    assert chain.day3.summary["carry_check"]["sampled"] == 20 and chain.day3.summary["carry_check"]["differed"] == []
    evaluations = {e.check_name: e for e in chain.day3.result.get_asset_check_evaluations()}
    assert evaluations["carried_rows_match_api"].passed is True
    data = json.loads(chain.report3.split('id="esg-report-data">')[1].split("</script>")[0])
    assert [h["carry_check_differed"] for h in data["history"]] == [0, 1, 0]


def test_sample_zero_turns_the_check_off(chain: Chain) -> None:
    assert chain.sample_zero.success
    assert chain.sample_zero.called == set()
    ratings = chain.sample_zero.ratings  # the day stops at esg_ratings: its metadata reports the check
    assert (ratings["carry_check_sampled"], ratings["carry_check_differed"], ratings["carried_forward_this_run"]) == (
        0, 0, 30)


def test_fewer_candidates_than_the_setting_samples_them_all(chain: Chain) -> None:
    assert chain.few_candidates.success
    assert chain.few_candidates.called == set(ACCOUNTS)  # 12 not candidates, the 18 others sampled
    summary = chain.few_candidates.summary
    assert summary["carry_check"] == {"sampled": 18, "matched": 18, "differed": [], "unverified": []}
    assert (summary["accounts_called"], summary["carried_forward"]) == (30, 0)


def test_a_resume_draws_the_same_sample_and_does_not_call_what_was_kept(chain: Chain) -> None:
    assert chain.resumed.success
    assert chain.resumed.called == set(SAMPLE6[1:])  # the same sample; the kept result is not called again
    summary = chain.resumed.summary
    assert summary["carry_check"] == {"sampled": 3, "matched": 3, "differed": [], "unverified": []}
    assert (summary["accounts_called"], summary["carried_forward"]) == (3, 27)
