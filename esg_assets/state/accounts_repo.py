"""The active-account list of a partition in the state database."""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from esg_assets.domain.models import Account
from esg_assets.state.db import STAGING_MEMORY_LIMIT, memory_cap, transaction


def replace_accounts(con: duckdb.DuckDBPyConnection, partition: str, pages: Iterable[list[Account]]) -> tuple[int, int]:
    """Stage every page, then swap the partition's list in one transaction (idempotent; the
    previous list stays untouched if a page fails). Returns (accounts, duplicates dropped).
    A duplicated account_id keeps its later record.

    Memory stays bounded whatever N: pages go to a temp table (spilled, encrypted, to the
    connection's temp directory past its memory limit); the only aggregate is over the
    duplicated IDs (spillable), never an arg_max per account; the swap is a sort (spillable)
    into a table without index, so no ART grows with N.
    """
    with memory_cap(con, STAGING_MEMORY_LIMIT):
        return _replace_accounts(con, partition, pages)


def _replace_accounts(con: duckdb.DuckDBPyConnection, partition: str, pages: Iterable[list[Account]]) -> tuple[int, int]:
    # Under `memory_cap`: the pages are appended, the swap's sort spills past the cap, so what
    # DuckDB holds stays near the cap whatever N (docs/benchmarks.md, "Peak RSS").
    con.execute(
        "CREATE OR REPLACE TEMP TABLE staged_accounts (seq BIGINT, account_id VARCHAR, account_name VARCHAR, updated_at VARCHAR)"
    )
    seq = 0
    for page in pages:
        if not page:
            continue
        con.execute(
            """INSERT INTO staged_accounts
               SELECT unnest(range(?::BIGINT, ?::BIGINT)), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]),
                      unnest(?::VARCHAR[])""",
            [seq, seq + len(page), [a.account_id for a in page], [a.account_name for a in page], [a.updated_at for a in page]],
        )
        seq += len(page)
    # The later record of each duplicated ID: the one to keep.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE staged_keep AS
           SELECT account_id, max(seq) AS seq FROM staged_accounts GROUP BY account_id HAVING count(*) > 1"""
    )
    with transaction(con):
        con.execute("DELETE FROM accounts WHERE partition = ?", [partition])
        # Account order makes the zonemaps on account_id tight: later reads of a range of
        # accounts (a batch of results, a chunk of the CSV) skip the rest of the partition.
        con.execute(
            """INSERT INTO accounts
               SELECT ?, s.account_id, s.account_name, s.updated_at
               FROM staged_accounts s LEFT JOIN staged_keep k ON k.account_id = s.account_id
               WHERE k.seq IS NULL OR k.seq = s.seq
               ORDER BY s.account_id""",
            [partition],
        )
    total = account_count(con, partition)
    con.execute("DROP TABLE staged_accounts")
    con.execute("DROP TABLE staged_keep")
    return total, seq - total


def account_count(con: duckdb.DuckDBPyConnection, partition: str) -> int:
    return int(con.execute("SELECT count(*) FROM accounts WHERE partition = ?", [partition]).fetchone()[0])


def unknown_ids(con: duckdb.DuckDBPyConnection, partition: str, account_ids: list[str]) -> list[str]:
    """The IDs in `account_ids` that are not active accounts of the partition."""
    if not account_ids:
        return []
    rows = con.execute(
        """SELECT DISTINCT account_id FROM (SELECT unnest(?::VARCHAR[]) AS account_id)
           WHERE account_id NOT IN (SELECT account_id FROM accounts WHERE partition = ?)
           ORDER BY account_id""",
        [account_ids, partition],
    ).fetchall()
    return [r[0] for r in rows]
