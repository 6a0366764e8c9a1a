"""Change detection across days (output-and-behaviour.md §5): exactly the accounts that may
have changed are called; carried rows are byte-identical to the previous day's."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from esg_assets_tests.support.job import fast_job_env, read_output, run_day
from esg_assets_tests.pipeline.oracle import parse_csv
from esg_assets_tests.sandbox.harness import SandboxProcess

pytestmark = pytest.mark.integration
DAY1, DAY2 = "2026-11-20", "2026-11-21"


def called(sb: SandboxProcess, since: int) -> set[str]:
    return {r["account_id"] for r in sb.requests(since) if r["kind"] == "analysis"}


def rows_by_id(partition: str) -> dict[str, list[str]]:
    return {r[0]: r for r in parse_csv(read_output(partition, "ratings"))[1:]}


@pytest.fixture
def two_days(tmp_path, apply_env):
    """Day 1 run complete (ACC-0000005 Failed, ACC-0000006 Partial); yields (sandbox, instance)."""
    with SandboxProcess(accounts=30, seed=9, today=DAY1) as sb:
        apply_env(fast_job_env(tmp_path / "home", sb.env()))
        sb.script({"ACC-0000005": ["404"], "ACC-0000006": ["partial"]})
        with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
            assert run_day(DAY1, instance).success
            sb.clear_scripts()
            yield sb, instance


def test_day_two_calls_exactly_the_changed_accounts(two_days) -> None:
    sb, instance = two_days
    change = sb.advance(
        days=1,
        ams_updated=["ACC-0000001"],
        esg_changed=["ACC-0000002"],
        esg_changed_silently=["ACC-0000003"],
        added=2,
        removed=["ACC-0000004"],
    )
    mark = sb.next_index()
    assert run_day(DAY2, instance).success
    expected = {"ACC-0000001", "ACC-0000002", "ACC-0000005", "ACC-0000006", *change["added"]}
    assert called(sb, mark) == expected
    feed = [r for r in sb.requests(mark) if r["kind"] == "changes"]
    assert len(feed) == 1 and "since=" in feed[0]["path"]

    day1, day2 = rows_by_id(DAY1), rows_by_id(DAY2)
    assert "ACC-0000004" not in day2 and len(day2) == 31
    for account, row in day2.items():
        if account not in expected:
            assert row == day1[account], account  # carried forward unchanged (incl. Analysis Date)
    # The silently changed analysis is carried (the feed did not list it), by contract.
    assert day2["ACC-0000003"] == day1["ACC-0000003"]
    assert day2["ACC-0000002"][8] == DAY2  # the new analysis
    summary = json.loads(read_output(DAY2, "summary"))
    assert summary["accounts_called"] == len(expected)
    assert summary["carried_forward"] == 31 - len(expected)
    assert summary["api"]["requests"] == len(expected) + 1  # one changes-feed page


def test_account_name_comes_from_todays_list(two_days) -> None:
    sb, instance = two_days
    sb.advance(days=1)
    assert run_day(DAY2, instance).success
    names = {a["account_id"]: a["account_name"] for a in sb.accounts()}
    for account, row in rows_by_id(DAY2).items():
        assert row[1] == names[account]


def test_feed_not_offered_calls_everyone(two_days) -> None:
    sb, instance = two_days
    sb.advance(days=1)
    sb.config(feed_mode="501")
    mark = sb.next_index()
    assert run_day(DAY2, instance).success
    assert len(called(sb, mark)) == 30
    assert json.loads(read_output(DAY2, "summary"))["carried_forward"] == 0


def test_feed_broken_midway_calls_everyone(two_days) -> None:
    sb, instance = two_days
    sb.advance(days=1, random_changes={"esg_fraction": 1.0})  # enough feed entries for 2 pages? no: 30
    sb.config(feed_mode="broken")
    mark = sb.next_index()
    assert run_day(DAY2, instance).success
    assert len(called(sb, mark)) == 30


def test_old_provider_analyses_are_carried_when_verified_recently(two_days) -> None:
    """Rule 4 (contract 1.1) looks at Verified On, not the provider's Analysis Date."""
    sb, instance = two_days
    sb.advance(days=1)
    day1 = rows_by_id(DAY1)
    assert any(r[8] != "N/A" and r[8] < DAY1 for r in day1.values())  # analyses older than day 1
    mark = sb.next_index()
    assert run_day(DAY2, instance).success
    assert called(sb, mark) == {"ACC-0000005", "ACC-0000006"}


def test_an_age_limit_of_zero_calls_everyone_verified_before_today(two_days, monkeypatch) -> None:
    sb, instance = two_days
    sb.advance(days=1)
    monkeypatch.setenv("ESG_MAX_RATING_AGE_DAYS", "0")
    mark = sb.next_index()
    assert run_day(DAY2, instance).success
    assert len(called(sb, mark)) == 30


def test_full_refresh_calls_everyone(two_days) -> None:
    sb, instance = two_days
    sb.advance(days=1)
    mark = sb.next_index()
    result = run_day(DAY2, instance, run_config={"ops": {"esg_ratings": {"config": {"full_refresh": True}}}})
    assert result.success
    assert len(called(sb, mark)) == 30
    assert not any(r["kind"] == "changes" for r in sb.requests(mark))


def test_a_fresh_rerun_of_a_completed_day_carries_from_the_day_before_not_itself(two_days) -> None:
    sb, instance = two_days
    sb.advance(days=1)
    assert run_day(DAY2, instance).success
    mark = sb.next_index()
    assert run_day(DAY2, instance).success  # fresh run of a completed partition
    assert called(sb, mark) == {"ACC-0000005", "ACC-0000006"}
