"""Change detection across days (docs/spec.md#change-detection) through the real sandbox and
real runs: exactly the accounts that may have changed are called; carried rows are
byte-identical to the previous day's.

One chain of days, run once for the module (`chain`), that each test reads: day 1 (one account
Failed, one Partial); day 2 after visible and silent changes; day 2 run again (a fresh run of a
completed day); then, each after a quiet day that would carry everyone, the feed not offered
(501), the feed broken mid-way, an age limit of 0, full_refresh, and a last quiet day (these
stop at esg_ratings, whose metadata they read; the summary's figures are read on day 2). The rules one account at a
time are proven on the plan and the state layer (domain/test_plan.py, state/test_carry_repo.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg
import pytest

from esg_assets_tests.sandbox.harness import SandboxProcess
from esg_assets_tests.support.chain import PLAN_ONLY, Day, module_env, observe
from esg_assets_tests.support.job import fast_job_env

pytestmark = pytest.mark.integration
DAY1, DAY2, DAY3, DAY4, DAY5, DAY6, DAY7 = (f"2026-11-{d}" for d in range(20, 27))
CHANGED = {"ACC-0000001", "ACC-0000002"}  # AMS record updated; listed by the feed
NOT_SUCCESSFUL = {"ACC-0000005", "ACC-0000006"}  # Failed and Partial on day 1


@dataclass(frozen=True)
class Chain:
    day1: Day
    day2: Day
    names: dict[str, dict[str, str]]  # the AMS names of day 1 and day 2, by Account ID
    day2_again: Day
    added: list[str]
    feed_501: Day
    feed_broken: Day
    age_zero: Day
    full_refresh: Day
    quiet: Day


def names(sb: SandboxProcess) -> dict[str, str]:
    return {a["account_id"]: a["account_name"] for a in sb.accounts()}


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    home = tmp_path_factory.mktemp("chain") / "home"
    with SandboxProcess(accounts=30, seed=9, today=DAY1) as sb, module_env(fast_job_env(home, sb.env())) as mp:
        with dg.instance_for_test(temp_dir=str(home)) as instance:
            yield _chain(sb, instance, mp)


def _chain(sb: SandboxProcess, instance: dg.DagsterInstance, mp: pytest.MonkeyPatch) -> Chain:
    sb.script({"ACC-0000005": ["404"], "ACC-0000006": ["partial"]})
    day1, names1 = observe(sb, instance, DAY1), names(sb)
    sb.clear_scripts()
    change = sb.advance(days=1, ams_updated=["ACC-0000001"], esg_changed=["ACC-0000002"],
                        esg_changed_silently=["ACC-0000003"], added=2, removed=["ACC-0000004"])
    day2, names2 = observe(sb, instance, DAY2), names(sb)
    day2_again = observe(sb, instance, DAY2, assets=PLAN_ONLY)  # a fresh run of a completed partition
    # After day 2 every account is Successful and verified: a quiet day would carry all 31.
    sb.advance(days=1)
    sb.config(feed_mode="501")
    feed_501 = observe(sb, instance, DAY3, assets=PLAN_ONLY)
    sb.advance(days=1)
    sb.config(feed_mode="broken")  # a first page, then a second one that fails
    feed_broken = observe(sb, instance, DAY4, assets=PLAN_ONLY)
    sb.config(feed_mode="ok")
    sb.advance(days=1)
    mp.setenv("ESG_MAX_RATING_AGE_DAYS", "0")
    age_zero = observe(sb, instance, DAY5, assets=PLAN_ONLY)
    mp.delenv("ESG_MAX_RATING_AGE_DAYS")
    sb.advance(days=1)
    full_refresh = observe(sb, instance, DAY6, assets=PLAN_ONLY, run_config={"ops": {"esg_ratings": {"config": {"full_refresh": True}}}})
    sb.advance(days=1)
    quiet = observe(sb, instance, DAY7, assets=PLAN_ONLY)
    return Chain(day1, day2, {DAY1: names1, DAY2: names2}, day2_again, change["added"], feed_501, feed_broken,
                 age_zero, full_refresh, quiet)


def expected_day2(chain: Chain) -> set[str]:
    return CHANGED | NOT_SUCCESSFUL | set(chain.added)


def test_day_two_calls_exactly_the_changed_accounts(chain: Chain) -> None:
    assert chain.day1.success and chain.day2.success
    expected = expected_day2(chain)
    assert chain.day2.called == expected
    feed = [r for r in chain.day2.requests if r["kind"] == "changes"]
    assert len(feed) == 1 and "since=" in feed[0]["path"]

    day1, day2 = chain.day1.rows, chain.day2.rows
    assert "ACC-0000004" not in day2 and len(day2) == 31
    for account, row in day2.items():
        if account not in expected:
            assert row == day1[account], account  # carried forward unchanged (incl. Analysis Date)
    # The silently changed analysis is carried (the feed did not list it), by contract.
    assert day2["ACC-0000003"] == day1["ACC-0000003"]
    assert day2["ACC-0000002"][8] == DAY2  # the new analysis
    summary = chain.day2.summary
    assert summary["accounts_called"] == len(expected)
    assert summary["carried_forward"] == 31 - len(expected)
    assert summary["api"]["requests"] == len(expected) + 1  # one changes-feed page


def test_account_name_comes_from_todays_list(chain: Chain) -> None:
    for partition, day in ((DAY1, chain.day1), (DAY2, chain.day2)):
        assert day.success and day.rows
        for account, row in day.rows.items():
            assert row[1] == chain.names[partition][account]


def test_old_provider_analyses_are_carried_when_verified_recently(chain: Chain) -> None:
    """Rule 4 (contract 1.1) looks at Verified On, not the provider's Analysis Date."""
    carried = {a: r for a, r in chain.day2.rows.items() if a not in expected_day2(chain)}
    assert any(r[8] != "N/A" and r[8] < DAY1 for r in carried.values())  # analyses older than day 1, carried


def test_a_fresh_rerun_of_a_completed_day_carries_from_the_day_before_not_itself(chain: Chain) -> None:
    # Carried from day 2 itself, nobody would be called (every row of day 2 is Successful).
    assert chain.day2_again.success
    assert chain.day2_again.called == expected_day2(chain)
    assert chain.day2_again.ratings["mode"] == "fresh"


def test_feed_not_offered_calls_everyone(chain: Chain) -> None:
    assert chain.feed_501.success
    assert len(chain.feed_501.called) == 31
    assert chain.feed_501.ratings["carried_forward_this_run"] == 0


def test_feed_broken_midway_calls_everyone(chain: Chain) -> None:
    assert chain.feed_broken.success
    pages = [r for r in chain.feed_broken.requests if r["kind"] == "changes"]
    assert len(pages) >= 2 and "cursor=" in pages[-1]["path"]  # the second page was asked for, and failed
    assert len(chain.feed_broken.called) == 31
    assert chain.feed_broken.ratings["carried_forward_this_run"] == 0


def test_an_age_limit_of_zero_calls_everyone_verified_before_today(chain: Chain) -> None:
    assert chain.age_zero.success
    assert len(chain.age_zero.called) == 31


def test_full_refresh_calls_everyone(chain: Chain) -> None:
    assert chain.full_refresh.success
    assert len(chain.full_refresh.called) == 31
    assert not any(r["kind"] == "changes" for r in chain.full_refresh.requests)


def test_a_quiet_day_with_the_feed_read_carries_everyone(chain: Chain) -> None:
    """The days above call everyone because of their condition: each follows a day that called
    everyone, then a quiet day, and such a day, with the feed read and the default age limit,
    calls nobody."""
    assert chain.quiet.success
    assert chain.quiet.called == set()
    ratings = chain.quiet.ratings
    assert (ratings["accounts_called_this_run"], ratings["carried_forward_this_run"]) == (0, 31)
