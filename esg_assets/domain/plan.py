"""The day's plan for `esg_ratings`: the one home of change detection (docs/data-flow.md,
"Change detection"; docs/spec.md: #change-detection, #carry-forward-check, #resume,
#targeted-rerun).

Plain Python, no Dagster and no database: the state layer supplies the facts (is the partition
already started, which day is P, when did P start fetching) and executes the plan. For a
hundred thousand accounts the state layer applies the carry rules as one set-based statement;
it does so with the parameters this module computes (`DayPlan.oldest_verified_on`, `forced`,
the sample), and each rule's meaning is the named predicate below, which the tests pin down
and which `carry_candidate` combines for one account (the benchmark replays days with it).
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import Enum

from esg_assets.domain.models import Status


class Mode(str, Enum):
    """How a run of partition D starts (docs/spec.md#resume, #targeted-rerun)."""

    FRESH = "fresh"  # no attempt yet, or the last attempt completed: start over
    RESUME = "resume"  # the last attempt died: keep its final results, call the rest
    RERUN = "rerun"  # named accounts of a completed day: re-call exactly those


def decide_mode(started: bool, completed: bool, account_ids: Sequence[str]) -> Mode:
    """`started`: D has a ratings attempt on record; `completed`: that attempt finished.

    A run of a partition whose previous attempt completed is fresh, not a resume, unless
    it names accounts (a targeted rerun)."""
    if account_ids and completed:
        return Mode.RERUN
    if started and not completed:
        return Mode.RESUME
    return Mode.FRESH


# --- the six conditions of docs/spec.md#change-detection, one predicate each -----------------


def successful_in_previous(previous_status: str | None) -> bool:
    """Rule 1: the account has a Successful row in P (a Partial or Failed row is called again)."""
    return previous_status == Status.SUCCESSFUL.value


def ams_unchanged(updated_at_today: str, updated_at_in_previous: str | None) -> bool:
    """Rule 2: its AMS `updated_at` today equals the one recorded with its row in P."""
    return updated_at_in_previous is not None and updated_at_today == updated_at_in_previous


def not_in_feed(in_feed: bool) -> bool:
    """Rule 3: the changes feed (read completely, since P's fetch start) does not list it."""
    return not in_feed


def oldest_verified_on(day: str, max_age_days: int) -> str:
    """The earliest Verified On a carried row of `day` may have (rule 4): `max_age_days`
    before D, inclusive. Dates are YYYY-MM-DD text, so text order is date order."""
    return (date.fromisoformat(day) - timedelta(days=max_age_days)).isoformat()


def verified_recently(verified_on: str | None, day: str, max_age_days: int) -> bool:
    """Rule 4: its Verified On (the partition of the call that produced its row) is at most
    `max_age_days` days before D. The provider's Analysis Date plays no part: a provider may
    keep one analysis, and its date, for months. Unknown (None) is never recent."""
    return verified_on is not None and verified_on >= oldest_verified_on(day, max_age_days)


def not_forced(account_id: str, full_refresh: bool, forced: Sequence[str]) -> bool:
    """Rule 5: the run is not a full_refresh and does not name the account in account_ids."""
    return not full_refresh and account_id not in forced


def sample_key(day: str, account_id: str) -> str:
    """Rule 6's order: lower-case hex sha256 of the UTF-8 text "<D>:<account_id>" (docs/spec.md#carry-forward-check)."""
    return hashlib.sha256(f"{day}:{account_id}".encode()).hexdigest()


def choose_sample(day: str, candidates: Iterable[str], size: int) -> list[str]:
    """Rule 6: of the accounts rules 1-5 would carry, the `size` whose `sample_key` is smallest
    (compared as text) are called anyway. Streams the candidates (memory grows with `size`
    only); returns the sample in Account ID order. 0 turns the check off."""
    if size <= 0:
        return []
    return sorted(heapq.nsmallest(size, candidates, key=lambda account_id: sample_key(day, account_id)))


@dataclass(frozen=True)
class AccountFacts:
    """What the state database knows of one account on day D, for rules 1-4."""

    account_id: str
    updated_at: str  # AMS updated_at today
    previous_status: str | None  # its row in P, None when P has none
    previous_updated_at: str | None
    previous_verified_on: str | None
    in_feed: bool


# --- the plan -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayPlan:
    """Everything `esg_ratings` does for partition D, decided before any ESG call.

    `carry` is False when change detection does not apply (then every account without a final
    result of D is called); `reason` says why in the job log. With `carry`, the state layer
    reads the changes feed from `feed_since` and carries from `previous` the accounts that meet
    rules 1-5 (`oldest_verified_on`, `forced`), except `sample`, chosen by rule 6."""

    partition: str
    mode: Mode
    previous: str | None
    feed_since: str | None
    carry: bool
    reason: str
    max_age_days: int
    forced: tuple[str, ...]
    full_refresh: bool
    sample_size: int
    sample: tuple[str, ...] = ()

    @property
    def oldest_verified_on(self) -> str:
        """Rule 4's cutoff, the parameter the state layer's carry statement applies."""
        return oldest_verified_on(self.partition, self.max_age_days)

    @property
    def calls_exactly(self) -> tuple[str, ...] | None:
        """A targeted rerun calls exactly the named accounts; otherwise None (every account of
        D still without a result after the carry)."""
        return self.forced if self.mode is Mode.RERUN else None

    def without_feed(self, why: str) -> DayPlan:
        """The feed was not offered (404/501) or not read completely: rule 3 cannot be
        established for anyone, so nobody is carried and every account is called."""
        return replace(self, carry=False, reason=why, sample=())

    def with_sample(self, candidates: Iterable[str]) -> DayPlan:
        """The plan once the state layer has listed the accounts rules 1-5 would carry."""
        return replace(self, sample=tuple(choose_sample(self.partition, candidates, self.sample_size)))


def plan_day(
    partition: str,
    mode: Mode,
    previous: tuple[str, str | None] | None,
    *,
    account_ids: Sequence[str],
    full_refresh: bool,
    max_age_days: int,
    sample_size: int,
) -> DayPlan:
    """The plan of D. `previous` is P (the latest earlier partition whose ratings completed)
    with the UTC instant recorded just before its first ESG request, or None."""
    p_partition, since = previous if previous is not None else (None, None)
    if mode is Mode.RERUN:
        carry, reason = False, "not read (targeted rerun)"
    elif full_refresh:
        carry, reason = False, "not read (full_refresh)"
    elif p_partition is None:
        carry, reason = False, "not read (no earlier completed partition)"
    elif since is None:
        carry, reason = False, "not read (earlier partition has no fetch start)"
    else:
        carry, reason = True, "read"
    return DayPlan(
        partition=partition, mode=mode, previous=p_partition, feed_since=since, carry=carry, reason=reason,
        max_age_days=max_age_days, forced=tuple(dict.fromkeys(account_ids)),
        full_refresh=full_refresh, sample_size=sample_size,
    )


def carry_candidate(plan: DayPlan, facts: AccountFacts) -> bool:
    """Rules 1-5 for one account: would it be carried, were it not for the sample?"""
    return (
        plan.carry
        and successful_in_previous(facts.previous_status)
        and ams_unchanged(facts.updated_at, facts.previous_updated_at)
        and not_in_feed(facts.in_feed)
        and verified_recently(facts.previous_verified_on, plan.partition, plan.max_age_days)
        and not_forced(facts.account_id, plan.full_refresh, plan.forced)
    )


def carried(plan: DayPlan, facts: AccountFacts) -> bool:
    """All six rules: the account is carried from P without a call (rule 6 needs the sample)."""
    return carry_candidate(plan, facts) and facts.account_id not in plan.sample
