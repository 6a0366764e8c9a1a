"""The set-based execution of the day's plan (state/carry_repo.py) on a temporary DuckDB: it
selects exactly the accounts the plan's predicates select, one chunk of IDs at a time, carries
Verified On, and gives an unverified sampled account its row of P back; and chains of days
planned and executed so: a rating confirmed by a call is carried for up to 7 days after that
call, whatever its Analysis Date, and called again on day 8; an account called mid-chain gets
its own 7 days."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta

import duckdb
import pytest

from esg_assets.domain import plan as p
from esg_assets.domain.carry_check import Outcome, outcome
from esg_assets.domain.models import AccountResult
from esg_assets.state import carry_repo
from esg_assets.state import ratings_repo as repo
from esg_assets.state.accounts_repo import replace_accounts
from esg_assets.state.schema import migrate
from esg_assets_tests.state.statedb import UPDATED, accounts, ok

D, P = "2026-11-27", "2026-11-26"
ROW = "INSERT INTO ratings VALUES (?, ?, ?, '70', '70', '70', '70', 'Social', '70', '2026-01-01', ?, ?, 1, NULL, NULL, NULL, NULL, 'r', ?)"


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect(":memory:")
    migrate(c)
    yield c
    c.close()


def world(con: duckdb.DuckDBPyConnection, n: int, seed: int) -> tuple[list[p.AccountFacts], list[str]]:
    """n accounts of D with random facts (some without a row in P), and the feed's IDs."""
    rnd = random.Random(seed)
    facts, feed = [], []
    for i in range(n):
        a = f"ACC-{i:07d}"
        updated = rnd.choice(["2026-01-01T00:00:00Z", "2026-11-27T01:00:00Z"])
        con.execute("INSERT INTO accounts VALUES (?, ?, 'n', ?)", [D, a, updated])
        in_feed = rnd.random() < 0.1
        if in_feed:
            feed.append(a)
        if rnd.random() < 0.1:
            facts.append(p.AccountFacts(a, updated, None, None, None, in_feed))
            continue
        status = rnd.choice(["Successful"] * 4 + ["Partial", "Failed"])
        verified = rnd.choice(["2026-11-19", "2026-11-20", "2026-11-26"])
        con.execute(ROW, [P, a, status, "carried", "2026-01-01T00:00:00Z", verified])
        facts.append(p.AccountFacts(a, updated, status, "2026-01-01T00:00:00Z", verified, in_feed))
    return facts, feed


def test_the_carry_statement_selects_what_the_predicates_select(con, monkeypatch) -> None:
    monkeypatch.setattr(carry_repo, "CARRY_CHUNK", 37)  # several chunks of IDs
    facts, feed = world(con, 400, seed=5)
    day = p.plan_day(D, p.Mode.FRESH, (P, "2026-11-26T11:00:00.000000Z"), account_ids=["ACC-0000003"],
                     full_refresh=False, max_age_days=7, sample_size=5)
    carry_repo.load_feed(con, [feed[:10], feed[10:]])
    carry_repo.find_candidates(con, day)
    expected = sorted(f.account_id for f in facts if p.carry_candidate(day, f))
    assert list(carry_repo.candidate_ids(con, chunk=50)) == expected and 30 < len(expected) < 300

    day = day.with_sample(carry_repo.candidate_ids(con))
    assert carry_repo.carry_forward(con, day, "run-d") == len(expected) - 5
    carried = dict(con.execute("SELECT account_id, verified_on FROM ratings WHERE partition = ?", [D]).fetchall())
    assert sorted(carried) == [a for a in expected if a not in day.sample]
    by_id = {f.account_id: f for f in facts}
    assert all(v == by_id[a].previous_verified_on for a, v in carried.items())  # inherited


def test_an_unverified_sampled_account_gets_its_row_of_p_back(con) -> None:
    con.execute("INSERT INTO accounts VALUES (?, 'ACC-1', 'n', '2026-01-01T00:00:00Z')", [D])
    con.execute(ROW, [P, "ACC-1", "Successful", "called", "2026-01-01T00:00:00Z", "2026-11-22"])
    con.execute("""INSERT INTO ratings VALUES (?, 'ACC-1', 'Failed', NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                   'called', '2026-01-01T00:00:00Z', 3, 'server_error', 500, 'boom', NULL, 'r', ?)""", [D, D])
    day = p.plan_day(D, p.Mode.FRESH, (P, "x"), account_ids=[], full_refresh=False, max_age_days=7,
                     sample_size=1).with_sample(["ACC-1"])
    rows = carry_repo.sampled_rows(con, day)
    assert outcome(*rows["ACC-1"]) is Outcome.UNVERIFIED
    assert carry_repo.restore_carried(con, day, ["ACC-1"], "run-d") == 1
    assert con.execute("SELECT status, source, verified_on, overall FROM ratings WHERE partition = ?", [D]).fetchall() == [
        ("Successful", "carried", "2026-11-22", "70")]
    carry_repo.save_check(con, D, {"ACC-1": Outcome.UNVERIFIED})
    assert carry_repo.carry_check(con, D).to_json() == {"sampled": 1, "matched": 0, "differed": [], "unverified": ["ACC-1"]}


def test_every_call_of_d_is_verified_on_d(con) -> None:
    from datetime import UTC, datetime

    from esg_assets.domain.models import AccountResult, EsgAnalysis, Status
    from esg_assets.state import ratings_repo

    con.execute("INSERT INTO accounts VALUES (?, 'ACC-1', 'n', '2026-01-01T00:00:00Z')", [D])
    analysis = EsgAnalysis("ACC-1", "2025-06-01", *([None] * 6))  # a months-old analysis
    ratings_repo.save_results(con, D, "run", [AccountResult("ACC-1", Status.FAILED, analysis, 1, None, 500, "x",
                                                            datetime(2026, 11, 27, tzinfo=UTC))])
    assert con.execute("SELECT verified_on FROM ratings").fetchall() == [(D,)]


# --- chains of days: rule 4 by Verified On (docs/spec.md#change-detection) -------------------
# Each day planned by `domain.plan` and executed by the state layer as `esg_ratings` does (list,
# plan, feed, carry, calls, results, completion). These chains were whole job runs against the
# sandbox (pipeline/test_verified_on_chain.py, ten and eleven days); that module keeps one short
# chain proving the asset executes this plan with the configured age limit.

FIRST = date(2026, 11, 1)
MONTHS_OLD = "2025-10-01"  # the provider's Analysis Date of every answer of the chains


def day(n: int) -> str:
    return (FIRST + timedelta(days=n - 1)).isoformat()


def answered(account_id: str) -> AccountResult:
    """A Successful call whose analysis is months older than the chain."""
    result = ok(account_id)
    assert result.analysis is not None
    return replace(result, analysis=replace(result.analysis, analysis_date=MONTHS_OLD))


def run(con: duckdb.DuckDBPyConnection, n: int, ids: list[str], updated: dict[str, str] | None = None) -> set[str]:
    """Day n as the asset runs it, every call Successful with a months-old analysis; returns
    the accounts called. `updated`: AMS updated_at values that differ from the default."""
    partition, run_id = day(n), f"run-{n}"
    replace_accounts(con, partition, [[replace(a, updated_at=(updated or {}).get(a.account_id, UPDATED))
                                       for a in accounts(*ids)]])
    existing = repo.partition_state(con, partition)
    mode = p.decide_mode(existing is not None, existing is not None and existing[1] is not None, [])
    plan = p.plan_day(partition, mode, repo.previous_completed(con, partition), account_ids=[],
                      full_refresh=False, max_age_days=7, sample_size=0)
    repo.begin_fresh(con, partition, run_id)
    repo.set_fetch_started(con, partition, f"{partition}T11:00:00.000000Z")
    if plan.carry:
        carry_repo.load_feed(con, [[]])  # the feed, read completely, lists nobody
        carry_repo.find_candidates(con, plan)
        plan = plan.with_sample(carry_repo.candidate_ids(con))
        carry_repo.carry_forward(con, plan, run_id)
    repo.prepare_calls(con, partition, plan.calls_exactly)
    called = list(repo.calls(con))
    repo.save_results(con, partition, run_id, [answered(a) for a in called])
    repo.mark_completed(con, partition, f"{partition}T12:00:00.000000Z")
    return set(called)


def test_carried_seven_days_after_the_last_call_called_on_day_eight(con) -> None:
    """Moved here from pipeline/test_verified_on_chain.py (the ten-day chain of twelve accounts)."""
    everyone = [f"ACC-{i:07d}" for i in range(1, 13)]
    calls = {n: run(con, n, everyone) for n in range(1, 11)}
    assert calls[1] == set(everyone)
    # The analyses are months old, yet days 2-8 (7 days after the call of day 1, inclusive)
    # carry every row,
    for n in range(2, 9):
        assert calls[n] == set(), n
    assert calls[9] == set(everyone)  # day 9 is 8 days after it: every rating is confirmed again,
    assert calls[10] == set()  # then carried again.
    verified = con.execute("SELECT DISTINCT verified_on, source, analysis_date FROM ratings WHERE partition = ?",
                           [day(8)]).fetchall()
    assert verified == [(day(1), "carried", MONTHS_OLD)]  # a carried row keeps the Verified On of its call
    assert con.execute("SELECT DISTINCT verified_on FROM ratings WHERE partition = ?", [day(10)]).fetchall() == [
        (day(9),)]


def test_an_account_called_mid_chain_gets_its_own_seven_days(con) -> None:
    """Moved here from pipeline/test_verified_on_chain.py (the eleven-day chain of six accounts)."""
    six = [f"ACC-{i:07d}" for i in range(1, 7)]
    run(con, 1, six)
    calls: dict[int, set[str]] = {}
    for n in range(2, 12):
        # From day 3 on the AMS record of ACC-0000002 has changed, so it is called on day 3.
        calls[n] = run(con, n, six, {"ACC-0000002": "2026-11-03T01:00:00Z"} if n >= 3 else None)
    assert calls[3] == {"ACC-0000002"}
    assert all(calls[n] == set() for n in (2, 4, 5, 6, 7, 8)), calls
    assert calls[9] == set(six) - {"ACC-0000002"}
    assert calls[10] == set()  # 7 days after day 3's call: still carried
    assert calls[11] == {"ACC-0000002"}  # 8 days after it
