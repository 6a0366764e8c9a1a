"""The day's plan (domain/plan.py): the mode, each condition of change detection (§5) as its
own predicate, the 7/8-day boundary of rule 4, the sample by hash (§5b) and the cases where
nobody is carried. No server, no Dagster, no database."""

from __future__ import annotations

import hashlib

import pytest

from esg_assets.domain import plan as p

D = "2026-11-27"


def plan(**kw: object) -> p.DayPlan:
    args: dict[str, object] = {"account_ids": [], "full_refresh": False, "max_age_days": 7, "sample_size": 20}
    args.update(kw)
    return p.plan_day(D, p.Mode.FRESH, ("2026-11-26", "2026-11-26T11:00:00.000000Z"), **args)  # type: ignore[arg-type]


def facts(account_id: str = "ACC-0000001", **kw: object) -> p.AccountFacts:
    base: dict[str, object] = {
        "updated_at": "2026-01-01T00:00:00Z", "previous_status": "Successful",
        "previous_updated_at": "2026-01-01T00:00:00Z", "previous_verified_on": "2026-11-26", "in_feed": False,
    }
    base.update(kw)
    return p.AccountFacts(account_id=account_id, **base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("started", "completed", "ids", "mode"),
    [
        (False, False, [], p.Mode.FRESH),
        (True, True, [], p.Mode.FRESH),  # a completed day run again is fresh, not a resume
        (True, False, [], p.Mode.RESUME),
        (True, True, ["ACC-0000001"], p.Mode.RERUN),
        (True, False, ["ACC-0000001"], p.Mode.RESUME),  # an unfinished day resumes, forcing those
    ],
)
def test_mode(started: bool, completed: bool, ids: list[str], mode: p.Mode) -> None:
    assert p.decide_mode(started, completed, ids) is mode


def test_rule_1_only_a_successful_row_is_carried() -> None:
    assert p.successful_in_previous("Successful")
    assert not p.successful_in_previous("Partial")
    assert not p.successful_in_previous("Failed")
    assert not p.successful_in_previous(None)


def test_rule_2_ams_updated_at_must_be_unchanged() -> None:
    assert p.ams_unchanged("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z")
    assert not p.ams_unchanged("2026-01-01T00:00:01Z", "2026-01-01T00:00:00Z")
    assert not p.ams_unchanged("2026-01-01T00:00:00Z", None)


def test_rule_3_an_account_in_the_feed_is_called() -> None:
    assert p.not_in_feed(False) and not p.not_in_feed(True)


@pytest.mark.parametrize(("verified_on", "recent"), [
    ("2026-11-27", True), ("2026-11-20", True),  # 7 days before D: still carried (inclusive)
    ("2026-11-19", False),  # 8 days: called
    (None, False),
])
def test_rule_4_verified_on_within_seven_days_inclusive(verified_on: str | None, recent: bool) -> None:
    assert p.verified_recently(verified_on, D, 7) is recent
    assert p.carry_candidate(plan(), facts(previous_verified_on=verified_on)) is recent


def test_rule_4_ignores_the_providers_analysis_date() -> None:
    # AccountFacts has no Analysis Date at all: a months-old analysis confirmed yesterday is carried.
    assert p.carry_candidate(plan(), facts(previous_verified_on="2026-11-26"))
    assert p.oldest_verified_on(D, 7) == "2026-11-20" == plan().oldest_verified_on
    assert p.oldest_verified_on("2026-03-03", 7) == "2026-02-24"  # across a month end


def test_rule_4_age_zero_carries_only_what_was_called_today() -> None:
    assert p.verified_recently(D, D, 0) and not p.verified_recently("2026-11-26", D, 0)


def test_rule_5_full_refresh_and_named_accounts() -> None:
    assert p.not_forced("ACC-0000001", False, [])
    assert not p.not_forced("ACC-0000001", False, ["ACC-0000001"])
    assert not p.not_forced("ACC-0000001", True, [])
    assert not p.carry_candidate(plan(account_ids=["ACC-0000001"]), facts())
    assert p.carry_candidate(plan(account_ids=["ACC-0000002"]), facts())


def test_each_rule_alone_stops_the_carry() -> None:
    assert p.carry_candidate(plan(), facts())
    for change in ({"previous_status": "Partial"}, {"updated_at": "2026-02-02T00:00:00Z"}, {"in_feed": True},
                   {"previous_verified_on": "2026-11-01"}, {"previous_status": None, "previous_updated_at": None}):
        assert not p.carry_candidate(plan(), facts(**change)), change


def test_sample_key_is_the_lower_case_hex_sha256_of_day_colon_id() -> None:
    assert p.sample_key(D, "ACC-0000001") == hashlib.sha256(b"2026-11-27:ACC-0000001").hexdigest()
    assert p.sample_key(D, "ACC-0000001") != p.sample_key("2026-11-28", "ACC-0000001")  # a new sample each day


def test_sample_is_the_n_smallest_hashes_in_account_order() -> None:
    ids = [f"ACC-{i:07d}" for i in range(1, 201)]
    expected = sorted(sorted(ids, key=lambda a: hashlib.sha256(f"{D}:{a}".encode()).hexdigest())[:20])
    assert p.choose_sample(D, iter(ids), 20) == expected
    assert p.choose_sample(D, reversed(ids), 20) == expected  # the order of the candidates does not matter
    assert p.choose_sample(D, ids[:5], 20) == sorted(ids[:5])  # fewer candidates than the setting
    assert p.choose_sample(D, ids, 0) == []  # 0 turns the check off


def test_the_sampled_account_is_called_the_others_carried() -> None:
    ids = [f"ACC-{i:07d}" for i in range(1, 51)]
    day = plan(sample_size=3).with_sample(ids)
    assert len(day.sample) == 3
    for account in ids:
        assert p.carried(day, facts(account)) is (account not in day.sample)


@pytest.mark.parametrize(("kw", "previous", "reason"), [
    ({"full_refresh": True}, ("2026-11-26", "2026-11-26T11:00:00.000000Z"), "not read (full_refresh)"),
    ({}, None, "not read (no earlier completed partition)"),
    ({}, ("2026-11-26", None), "not read (earlier partition has no fetch start)"),
])
def test_nobody_is_carried_without_change_detection(kw: dict, previous: tuple | None, reason: str) -> None:
    args = {"account_ids": [], "full_refresh": False, "max_age_days": 7, "sample_size": 20, **kw}
    day = p.plan_day(D, p.Mode.FRESH, previous, **args)
    assert not day.carry and day.reason == reason
    assert not p.carry_candidate(day, facts())


def test_a_targeted_rerun_calls_exactly_the_named_accounts() -> None:
    day = p.plan_day(D, p.Mode.RERUN, ("2026-11-26", "x"), account_ids=["ACC-2", "ACC-1", "ACC-2"],
                     full_refresh=False, max_age_days=7, sample_size=20)
    assert not day.carry and day.calls_exactly == ("ACC-2", "ACC-1")
    assert plan().calls_exactly is None


def test_a_feed_not_offered_or_broken_means_everyone_is_called() -> None:
    day = plan().with_sample(["ACC-0000001"]).without_feed("unavailable")
    assert not day.carry and day.sample == () and day.reason == "unavailable"
    assert not p.carry_candidate(day, facts())
