"""Results per account and partition: start of a run, batch commits (change detection is
`domain.plan`, executed by `carry_repo`).

Every write here is idempotent for its partition: a fresh run first deletes the partition's
results, a resume keeps only results that are final (Successful or Partial), and each batch of
results replaces any earlier result of the same accounts (delete, then insert, in one
transaction). `ratings` has no PRIMARY KEY (schema.py): these writers are what keeps one row
per (partition, account_id).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import duckdb

from esg_assets.clock import utc_text
from esg_assets.domain.models import AccountResult
from esg_assets.state.db import transaction

_RESULT_COLUMNS = (
    "account_id", "status", "overall", "environmental", "social", "governance",
    "primary_pillar", "primary_score", "analysis_date", "attempts", "error_kind",
    "http_status", "error_message", "last_attempt_at",
)
_RESULT_TYPES = (
    "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR",
    "VARCHAR", "VARCHAR", "VARCHAR", "INTEGER", "VARCHAR",
    "INTEGER", "VARCHAR", "VARCHAR",
)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def partition_state(con: duckdb.DuckDBPyConnection, partition: str) -> tuple[str | None, str | None] | None:
    """(fetch_started_at, completed_at) of the partition's ratings, or None if never run."""
    row = con.execute(
        "SELECT fetch_started_at, completed_at FROM ratings_partitions WHERE partition = ?", [partition]
    ).fetchone()
    return None if row is None else (row[0], row[1])


def previous_completed(con: duckdb.DuckDBPyConnection, partition: str) -> tuple[str, str | None] | None:
    """P: the latest earlier partition whose ratings completed, with its fetch start instant."""
    row = con.execute(
        """SELECT partition, fetch_started_at FROM ratings_partitions
           WHERE partition < ? AND completed_at IS NOT NULL ORDER BY partition DESC LIMIT 1""",
        [partition],
    ).fetchone()
    return None if row is None else (row[0], row[1])


def _upsert_partition(con: duckdb.DuckDBPyConnection, partition: str, run_id: str, *, reset: bool) -> None:
    if reset:
        con.execute(
            "INSERT OR REPLACE INTO ratings_partitions VALUES (?, NULL, NULL, ?)", [partition, run_id]
        )
    else:
        con.execute("UPDATE ratings_partitions SET last_run_id = ? WHERE partition = ?", [run_id, partition])


def begin_fresh(con: duckdb.DuckDBPyConnection, partition: str, run_id: str) -> None:
    """A fresh run: the partition's earlier results are dropped, in one transaction."""
    with transaction(con):
        con.execute("DELETE FROM ratings WHERE partition = ?", [partition])
        _upsert_partition(con, partition, run_id, reset=True)


def begin_resume(con: duckdb.DuckDBPyConnection, partition: str, run_id: str, forced: Sequence[str]) -> int:
    """A resume: keep the final results of accounts still active; returns how many are kept."""
    with transaction(con):
        con.execute(
            """DELETE FROM ratings WHERE partition = ? AND (status = 'Failed'
               OR account_id NOT IN (SELECT account_id FROM accounts WHERE partition = ?))""",
            [partition, partition],
        )
        _delete_ids(con, partition, forced)
        _upsert_partition(con, partition, run_id, reset=False)
    return int(con.execute("SELECT count(*) FROM ratings WHERE partition = ?", [partition]).fetchone()[0])


def _delete_ids(con: duckdb.DuckDBPyConnection, partition: str, ids: Sequence[str]) -> None:
    if ids:
        con.execute("DELETE FROM ratings WHERE partition = ? AND list_contains(?, account_id)", [partition, list(ids)])


def set_fetch_started(con: duckdb.DuckDBPyConnection, partition: str, instant: str) -> None:
    """Record the instant before the first ESG request of the partition (kept on resume)."""
    con.execute(
        "UPDATE ratings_partitions SET fetch_started_at = coalesce(fetch_started_at, ?) WHERE partition = ?",
        [instant, partition],
    )


def mark_completed(con: duckdb.DuckDBPyConnection, partition: str, instant: str) -> None:
    con.execute("UPDATE ratings_partitions SET completed_at = ? WHERE partition = ?", [instant, partition])


def prepare_calls(con: duckdb.DuckDBPyConnection, partition: str, only: Sequence[str] | None = None) -> int:
    """Fill the temp table `to_call`: the accounts of the partition still without a result
    (or exactly `only`, for a targeted rerun), numbered in Account ID order."""
    con.execute("CREATE OR REPLACE TEMP TABLE to_call (rn BIGINT, account_id VARCHAR)")
    if only is not None:
        con.execute(
            "INSERT INTO to_call SELECT row_number() OVER (ORDER BY id), id FROM (SELECT DISTINCT unnest(?) AS id)",
            [list(only)],
        )
    else:
        con.execute(
            """INSERT INTO to_call
               SELECT row_number() OVER (ORDER BY a.account_id), a.account_id FROM accounts a
               WHERE a.partition = ?
                 AND a.account_id NOT IN (SELECT account_id FROM ratings WHERE partition = ?)""",
            [partition, partition],
        )
    return int(con.execute("SELECT count(*) FROM to_call").fetchone()[0])


def calls(con: duckdb.DuckDBPyConnection, chunk: int = 10_000) -> Iterator[str]:
    """The account IDs of `to_call`, read a chunk at a time so memory stays flat."""
    start = 1
    while True:
        rows = con.execute(
            "SELECT account_id FROM to_call WHERE rn BETWEEN ? AND ? ORDER BY rn", [start, start + chunk - 1]
        ).fetchall()
        if not rows:
            return
        for (account_id,) in rows:
            yield account_id
        start += chunk


def save_results(con: duckdb.DuckDBPyConnection, partition: str, run_id: str, results: Sequence[AccountResult]) -> None:
    """Commit one batch of results (replacing any earlier result of the same accounts).

    The batch travels as one list per column, unnested side by side by DuckDB: no DataFrame is
    built per batch (pandas cost more CPU than the INSERT itself, on the GIL the workers need).
    """
    if not results:
        return
    columns: list[list[object]] = [[] for _ in _RESULT_COLUMNS]
    (ids, statuses, overall, environmental, social, governance, pillars, primary, dates, attempts,
     kinds, http, messages, last_at) = columns
    for r in results:
        a = r.analysis
        ids.append(r.account_id)
        statuses.append(r.status.value)
        if a is None:
            for column in (overall, environmental, social, governance, pillars, primary, dates):
                column.append(None)
        else:
            overall.append(_text(a.overall))
            environmental.append(_text(a.environmental))
            social.append(_text(a.social))
            governance.append(_text(a.governance))
            pillars.append(a.primary_pillar)
            primary.append(_text(a.primary_score))
            dates.append(a.analysis_date)
        attempts.append(r.attempts)
        kinds.append(r.error_kind.value if r.error_kind else None)
        http.append(r.http_status)
        messages.append(r.error_message)
        last_at.append(utc_text(r.last_attempt_at))
    unnest = ", ".join(f"unnest(?::{t}[]) AS {c}" for c, t in zip(_RESULT_COLUMNS, _RESULT_TYPES))
    # Calls are made in Account ID order, so a batch covers a narrow range of IDs: the explicit
    # bounds let the zonemaps skip the rest of the partition in the DELETE and the join.
    low, high = min(ids), max(ids)
    with transaction(con):
        con.execute(
            """DELETE FROM ratings WHERE partition = ? AND account_id BETWEEN ? AND ?
               AND list_contains(?, account_id)""",
            [partition, low, high, ids],
        )
        con.execute(
            f"""INSERT INTO ratings
                SELECT ?, f.account_id, f.status, f.overall, f.environmental, f.social, f.governance,
                       f.primary_pillar, f.primary_score, f.analysis_date, 'called', a.updated_at,
                       f.attempts, f.error_kind, f.http_status, f.error_message, f.last_attempt_at, ?, ?
                FROM (SELECT {unnest}) f
                JOIN accounts a ON a.partition = ? AND a.account_id = f.account_id
                     AND a.account_id BETWEEN ? AND ?""",
            # Verified On of a called row: D itself, also for resumed and rerun calls (docs/spec.md#change-detection).
            [partition, run_id, partition, *columns, partition, low, high],
        )


def record_run(con: duckdb.DuckDBPyConnection, partition: str, run_id: str, mode: str, started_at: str) -> None:
    con.execute(
        """INSERT OR REPLACE INTO ratings_runs (partition, run_id, mode, started_at)
           VALUES (?, ?, ?, ?)""",
        [partition, run_id, mode, started_at],
    )


def finish_run(
    con: duckdb.DuckDBPyConnection,
    partition: str,
    run_id: str,
    *,
    ended_at: str,
    accounts_called: int,
    carried_forward: int,
    requests: int,
    retries: int,
    rate_limited: int,
    token_refreshes: int,
    feed_status: str,
) -> None:
    con.execute(
        """UPDATE ratings_runs SET ended_at = ?, accounts_called = ?, carried_forward = ?,
           requests = ?, retries = ?, rate_limited = ?, token_refreshes = ?, feed_status = ?
           WHERE partition = ? AND run_id = ?""",
        [ended_at, accounts_called, carried_forward, requests, retries, rate_limited,
         token_refreshes, feed_status, partition, run_id],
    )


def status_counts(con: duckdb.DuckDBPyConnection, partition: str) -> dict[str, int]:
    rows = con.execute("SELECT status, count(*) FROM ratings WHERE partition = ? GROUP BY status", [partition]).fetchall()
    return {status: int(n) for status, n in rows}


def error_kind_counts(con: duckdb.DuckDBPyConnection, partition: str) -> dict[str, int]:
    rows = con.execute(
        "SELECT error_kind, count(*) FROM ratings WHERE partition = ? AND error_kind IS NOT NULL GROUP BY 1 ORDER BY 1",
        [partition],
    ).fetchall()
    return {kind: int(n) for kind, n in rows}
