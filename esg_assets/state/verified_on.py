"""Verified On for rows written before it was kept (schema version 2 -> 3, run once by
`schema.migrate` inside its transaction).

A row produced by a call was verified on its own partition's date. A carried row is a copy of
its account's row in P, the latest earlier partition whose ratings had completed, so it
inherits that row's Verified On. Partitions are walked oldest first, so P's rows already have
theirs when D's carried rows look. A carried row whose P is no longer kept (retention removed
it) stays unknown (NULL): rule 4 never carries an unknown date, so that account is called the
next day, which is the safe side.
"""

from __future__ import annotations

import duckdb


def backfill(con: duckdb.DuckDBPyConnection) -> None:
    """Give every row without a Verified On the one it would have had; idempotent."""
    con.execute("UPDATE ratings SET verified_on = partition WHERE verified_on IS NULL AND source = 'called'")
    partitions = [
        row[0]
        for row in con.execute(
            "SELECT DISTINCT partition FROM ratings WHERE verified_on IS NULL AND source = 'carried' ORDER BY 1"
        ).fetchall()
    ]
    for partition in partitions:
        previous = con.execute(
            """SELECT max(partition) FROM ratings_partitions
               WHERE partition < ? AND completed_at IS NOT NULL""",
            [partition],
        ).fetchone()[0]
        if previous is None:
            continue
        con.execute(
            """UPDATE ratings SET verified_on = p.verified_on
               FROM ratings p
               WHERE ratings.partition = ? AND ratings.source = 'carried' AND ratings.verified_on IS NULL
                 AND p.partition = ? AND p.account_id = ratings.account_id""",
            [partition, previous],
        )
