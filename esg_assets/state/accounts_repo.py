"""The active-account list of a partition in the state database."""

from __future__ import annotations

from collections.abc import Iterable

import duckdb
import pandas as pd

from esg_assets.domain.models import Account


def replace_accounts(con: duckdb.DuckDBPyConnection, partition: str, pages: Iterable[list[Account]]) -> tuple[int, int]:
    """Stage every page, then swap the partition's list in one transaction (idempotent; the
    previous list stays untouched if a page fails). Returns (accounts, duplicates dropped).
    A duplicated account_id keeps its later record."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE staged_accounts (seq BIGINT, account_id VARCHAR, account_name VARCHAR, updated_at VARCHAR)"
    )
    seq = 0
    for page in pages:
        if not page:
            continue
        frame = pd.DataFrame(
            {
                "seq": range(seq, seq + len(page)),
                "account_id": [a.account_id for a in page],
                "account_name": [a.account_name for a in page],
                "updated_at": [a.updated_at for a in page],
            }
        )
        seq += len(page)
        con.register("page_frame", frame)
        con.execute("INSERT INTO staged_accounts SELECT seq, account_id, account_name, updated_at FROM page_frame")
        con.unregister("page_frame")
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM accounts WHERE partition = ?", [partition])
        con.execute(
            """INSERT INTO accounts
               SELECT ?, account_id, arg_max(account_name, seq), arg_max(updated_at, seq)
               FROM staged_accounts GROUP BY account_id""",
            [partition],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    total = con.execute("SELECT count(*) FROM accounts WHERE partition = ?", [partition]).fetchone()[0]
    con.execute("DROP TABLE staged_accounts")
    return int(total), seq - int(total)


def account_count(con: duckdb.DuckDBPyConnection, partition: str) -> int:
    return int(con.execute("SELECT count(*) FROM accounts WHERE partition = ?", [partition]).fetchone()[0])


def unknown_ids(con: duckdb.DuckDBPyConnection, partition: str, account_ids: list[str]) -> list[str]:
    """The IDs in `account_ids` that are not active accounts of the partition."""
    if not account_ids:
        return []
    frame = pd.DataFrame({"account_id": account_ids})
    con.register("asked_ids", frame)
    try:
        rows = con.execute(
            """SELECT DISTINCT account_id FROM asked_ids
               WHERE account_id NOT IN (SELECT account_id FROM accounts WHERE partition = ?)
               ORDER BY account_id""",
            [partition],
        ).fetchall()
    finally:
        con.unregister("asked_ids")
    return [r[0] for r in rows]
