"""Executing the day's plan (`domain.plan`) on the state database: the changes feed, the
accounts rules 1-5 would carry, the carry itself and the carry-forward check's rows.

The rules are the plan's; this module applies them to a hundred thousand accounts and more as
set-based statements, with the plan's parameters (the comments name the predicate each
condition applies). Every statement works on one range of CARRY_CHUNK Account IDs at a time: a
single statement over all accounts joins two partitions of N rows, whose hash tables outgrow
the connection's memory limit at 1M accounts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

import duckdb

from esg_assets.domain.carry_check import CarryCheck, Outcome, StoredRow
from esg_assets.domain.models import Status
from esg_assets.domain.plan import DayPlan
from esg_assets.state.db import transaction

CARRY_CHUNK = 100_000  # accounts per statement: bounds its hash joins
_P_ROW = """p.status, p.overall, p.environmental, p.social, p.governance, p.primary_pillar,
            p.primary_score, p.analysis_date"""


def load_feed(con: duckdb.DuckDBPyConnection, pages: Iterable[list[str]]) -> int:
    """Fill the temp table `feed_changed` from the changes feed; raises what the pages raise."""
    con.execute("CREATE OR REPLACE TEMP TABLE feed_changed (account_id VARCHAR)")
    for ids in pages:
        if ids:
            con.execute("INSERT INTO feed_changed SELECT unnest(?)", [ids])
    return int(con.execute("SELECT count(DISTINCT account_id) FROM feed_changed").fetchone()[0])


def _ranges(con: duckdb.DuckDBPyConnection, partition: str) -> Iterator[tuple[str, str]]:
    """(low, high]: consecutive ranges of at most CARRY_CHUNK active Account IDs of D."""
    low = ""
    while True:
        high = con.execute(
            """SELECT max(account_id) FROM (SELECT account_id FROM accounts
               WHERE partition = ? AND account_id > ? ORDER BY account_id LIMIT ?)""",
            [partition, low, CARRY_CHUNK],
        ).fetchone()[0]
        if high is None:
            return
        yield low, high
        low = high


def find_candidates(con: duckdb.DuckDBPyConnection, plan: DayPlan) -> int:
    """Fill the temp table `carry_candidates`: the accounts of D that rules 1-5 carry from P
    (the feed was read completely into `feed_changed`). Rows D already has do not matter
    here: a resume computes the same candidates, hence the same sample, as the fresh run."""
    con.execute("CREATE OR REPLACE TEMP TABLE carry_candidates (account_id VARCHAR)")
    if not plan.carry:
        return 0
    for low, high in _ranges(con, plan.partition):
        con.execute(
            """INSERT INTO carry_candidates
               SELECT a.account_id
               FROM accounts a JOIN ratings p ON p.partition = $2 AND p.account_id = a.account_id
                    AND p.account_id > $6 AND p.account_id <= $7
               WHERE a.partition = $1 AND a.account_id > $6 AND a.account_id <= $7
                 AND p.status = $3                                           -- successful_in_previous
                 AND p.ams_updated_at = a.updated_at                         -- ams_unchanged
                 AND a.account_id NOT IN (SELECT account_id FROM feed_changed)  -- not_in_feed
                 AND p.verified_on >= $4                                     -- verified_recently
                 AND NOT list_contains($5, a.account_id)                     -- not_forced
               ORDER BY a.account_id""",
            [plan.partition, plan.previous, Status.SUCCESSFUL.value, plan.oldest_verified_on,
             list(plan.forced), low, high],
        )
    return int(con.execute("SELECT count(*) FROM carry_candidates").fetchone()[0])


def candidate_ids(con: duckdb.DuckDBPyConnection, chunk: int = 50_000) -> Iterator[str]:
    """The IDs of `carry_candidates`, a chunk at a time (for the plan's sample)."""
    after = ""
    while True:
        rows = con.execute(
            "SELECT account_id FROM carry_candidates WHERE account_id > ? ORDER BY account_id LIMIT ?",
            [after, chunk],
        ).fetchall()
        for (account_id,) in rows:
            yield account_id
        if len(rows) < chunk:
            return
        after = rows[-1][0]


def _insert_from_previous(con: duckdb.DuckDBPyConnection, plan: DayPlan, run_id: str, where: str,
                          params: Sequence[object]) -> None:
    """Copy P's row (its Verified On included) into D for the accounts `where` selects; the
    account name and updated_at always come from today's list."""
    con.execute(
        f"""INSERT INTO ratings
            SELECT $1, a.account_id, {_P_ROW}, 'carried', a.updated_at,
                   0, NULL, NULL, NULL, p.last_attempt_at, $2, p.verified_on
            FROM accounts a JOIN ratings p ON p.partition = $3 AND p.account_id = a.account_id
            WHERE a.partition = $1 AND {where}
            ORDER BY a.account_id""",
        [plan.partition, run_id, plan.previous, *params],
    )


def carry_forward(con: duckdb.DuckDBPyConnection, plan: DayPlan, run_id: str) -> int:
    """Carry every candidate that is not in the sample (rule 6) and has no row of D yet, in
    one transaction; returns the rows carried."""
    if not plan.carry:
        return 0
    before = con.execute("SELECT count(*) FROM ratings WHERE partition = ?", [plan.partition]).fetchone()[0]
    with transaction(con):
        for low, high in _ranges(con, plan.partition):
            _insert_from_previous(
                con, plan, run_id,
                """a.account_id > $4 AND a.account_id <= $5 AND p.account_id > $4 AND p.account_id <= $5
                   AND a.account_id IN (SELECT account_id FROM carry_candidates
                                        WHERE account_id > $4 AND account_id <= $5)
                   AND NOT list_contains($6, a.account_id)
                   AND a.account_id NOT IN (SELECT account_id FROM ratings
                                            WHERE partition = $1 AND account_id > $4 AND account_id <= $5)""",
                [low, high, list(plan.sample)],
            )
    after = con.execute("SELECT count(*) FROM ratings WHERE partition = ?", [plan.partition]).fetchone()[0]
    return int(after - before)


def sampled_rows(con: duckdb.DuckDBPyConnection, plan: DayPlan) -> dict[str, tuple[StoredRow, StoredRow | None]]:
    """Each sampled account's row of P and its row of D (None if it has none)."""
    if not plan.sample:
        return {}
    columns = "status, overall, environmental, social, governance, primary_pillar, primary_score, analysis_date, source"
    rows: dict[str, dict[str, StoredRow]] = {}
    for which in (plan.previous, plan.partition):
        for account_id, status, *values, analysis_date, source in con.execute(
            f"SELECT account_id, {columns} FROM ratings WHERE partition = ? AND list_contains(?, account_id)",
            [which, list(plan.sample)],
        ).fetchall():
            rows.setdefault(account_id, {})[which] = StoredRow(status, tuple(values), analysis_date, source)
    return {a: (r[plan.previous], r.get(plan.partition)) for a, r in rows.items() if plan.previous in r}


def restore_carried(con: duckdb.DuckDBPyConnection, plan: DayPlan, account_ids: Sequence[str], run_id: str) -> int:
    """Give unverified sampled accounts back their row carried from P (a check never makes the
    file worse); returns how many rows produced by this run's calls were replaced."""
    ids = list(account_ids)
    if not ids:
        return 0
    with transaction(con):
        replaced = con.execute(
            "SELECT count(*) FROM ratings WHERE partition = ? AND source = 'called' AND list_contains(?, account_id)",
            [plan.partition, ids],
        ).fetchone()[0]
        con.execute("DELETE FROM ratings WHERE partition = ? AND list_contains(?, account_id)", [plan.partition, ids])
        _insert_from_previous(con, plan, run_id, "list_contains($4, a.account_id)", [ids])
    return int(replaced)


def save_check(con: duckdb.DuckDBPyConnection, partition: str, verdicts: Mapping[str, Outcome]) -> None:
    """Replace the partition's carry-forward check with this run's verdicts."""
    with transaction(con):
        con.execute("DELETE FROM carry_checks WHERE partition = ?", [partition])
        if verdicts:
            con.execute(
                "INSERT INTO carry_checks SELECT ?, unnest(?), unnest(?)",
                [partition, list(verdicts), [v.value for v in verdicts.values()]],
            )


def carry_check(con: duckdb.DuckDBPyConnection, partition: str) -> CarryCheck:
    """The partition's carry-forward check as recorded (all zero when there was none)."""
    rows = con.execute("SELECT account_id, outcome FROM carry_checks WHERE partition = ?", [partition]).fetchall()
    return CarryCheck.of({account_id: Outcome(outcome) for account_id, outcome in rows})
