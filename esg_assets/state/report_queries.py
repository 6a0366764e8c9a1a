"""Reading a partition's results back: CSV rows in Account ID order, and summary figures."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import duckdb

from esg_assets.domain.models import ErrorRow, RatingRow

# Rows per ordered read of the CSV files: bounds DuckDB's sort and join to one chunk.
ORDERED_CHUNK = 50_000
SCORE_COLUMNS = ("overall", "environmental", "social", "governance")
# Scores are stored as the exact decimal text the API sent. DuckDB 1.5.5 casts and sums
# DECIMAL(38, s) on 128-bit integers, about 80 times slower than DECIMAL(18, s) on 64-bit ones
# (1.7 s against 0.02 s for the four scores of 100,000 rows here, twice per run: the summary and
# the call-failure check). Plain decimals of at most 8 integer digits and 10 decimals (the
# contract sends 0..100 with at most 6) fit DECIMAL(18,10) exactly; a partition holding any
# other text form (an exponent, more decimals) is computed in DECIMAL(38,20) as before.
_FITS_18_10 = "[0-9]{1,8}([.][0-9]{1,10})?"


def score_decimal(con: duckdb.DuckDBPyConnection, partition: str) -> str:
    """The DECIMAL type every score of the partition is cast to: exact for all of them."""
    odd = " OR ".join(f"NOT regexp_full_match({c}, '{_FITS_18_10}')" for c in SCORE_COLUMNS)
    row = con.execute(f"SELECT count(*) FROM ratings WHERE partition = ? AND ({odd})", [partition]).fetchone()
    return "DECIMAL(18,10)" if row is not None and row[0] == 0 else "DECIMAL(38,20)"


def missing_results(con: duckdb.DuckDBPyConnection, partition: str) -> int:
    """Active accounts of the partition without a result (0 once esg_ratings completed)."""
    return int(
        con.execute(
            """SELECT count(*) FROM accounts a WHERE a.partition = ?
               AND a.account_id NOT IN (SELECT account_id FROM ratings WHERE partition = ?)""",
            [partition, partition],
        ).fetchone()[0]
    )


def _ordered(con: duckdb.DuckDBPyConnection, sql: str, params: list, chunk: int) -> Iterator[tuple]:
    """The rows of `sql` in Account ID order, one chunk at a time (keyset pagination): `sql`
    selects at most `limit` rows with account_id > `after` (its last two parameters), ordered,
    account_id first. Each chunk is a top-N of `chunk` rows, so DuckDB never sorts or joins
    more than one chunk, whatever the number of accounts."""
    after = ""
    while True:
        rows = con.execute(sql, [*params, after, chunk]).fetchall()
        yield from rows
        if len(rows) < chunk:
            return
        after = rows[-1][0]


def rating_rows(con: duckdb.DuckDBPyConnection, partition: str, chunk: int = ORDERED_CHUNK) -> Iterator[RatingRow]:
    """One row per active account, ordered by Account ID in plain byte order (DuckDB compares
    VARCHAR by bytes). The chunk's accounts are picked first, then joined to their results
    only: the ID bounds let the zonemaps skip the rest of the partition."""
    sql = """WITH c AS (
                 SELECT account_id, account_name FROM accounts
                 WHERE partition = $1 AND account_id > $2 ORDER BY account_id LIMIT $3)
             SELECT c.account_id, c.account_name, r.status, r.overall, r.environmental, r.social,
                    r.governance, r.primary_pillar, r.primary_score, r.analysis_date
             FROM c LEFT JOIN ratings r ON r.partition = $1 AND r.account_id = c.account_id
                  AND r.account_id BETWEEN (SELECT min(account_id) FROM c) AND (SELECT max(account_id) FROM c)
             ORDER BY c.account_id"""
    for row in _ordered(con, sql, [partition], chunk):
        yield RatingRow(*row)


def error_rows(con: duckdb.DuckDBPyConnection, partition: str, chunk: int = ORDERED_CHUNK) -> Iterator[ErrorRow]:
    """One row per Failed or Partial result of an active account, by Account ID. A chunk of
    results is picked, then each is flagged active or not (a result can outlive its account
    when the day's list is re-materialized); the next chunk starts after the last result."""
    sql = """WITH e AS (
                 SELECT account_id, attempts, error_kind, http_status, error_message, last_attempt_at
                 FROM ratings WHERE partition = $1 AND status IN ('Failed', 'Partial') AND account_id > $2
                 ORDER BY account_id LIMIT $3)
             SELECT e.*, a.account_id IS NOT NULL AS active
             FROM e LEFT JOIN accounts a ON a.partition = $1 AND a.account_id = e.account_id
                  AND a.account_id BETWEEN (SELECT min(account_id) FROM e) AND (SELECT max(account_id) FROM e)
             ORDER BY e.account_id"""
    for *row, active in _ordered(con, sql, [partition], chunk):
        if active:
            yield ErrorRow(*row)


@dataclass(frozen=True)
class Figures:
    """The exact figures of one partition, before any rounding."""

    total_accounts: int
    status_counts: dict[str, int]
    accounts_called: int
    carried_forward: int
    score_sums: dict[str, tuple[Decimal, int]]  # column -> (sum, count of values present)
    focus_counts: dict[str, int]


def figures(con: duckdb.DuckDBPyConnection, partition: str) -> Figures:
    base = """FROM ratings r JOIN accounts a ON a.partition = r.partition AND a.account_id = r.account_id
              WHERE r.partition = ?"""
    statuses = dict(con.execute(f"SELECT r.status, count(*) {base} GROUP BY r.status", [partition]).fetchall())
    sources = dict(con.execute(f"SELECT r.source, count(*) {base} GROUP BY r.source", [partition]).fetchall())
    # Exact sums: every digit the API sent is kept (score_decimal).
    exact = score_decimal(con, partition)
    sums_sql = ", ".join(f"sum(CAST(r.{c} AS {exact})), count(r.{c})" for c in SCORE_COLUMNS)
    sums_row = con.execute(f"SELECT {sums_sql} {base} AND r.status IN ('Successful', 'Partial')", [partition]).fetchone()
    score_sums = {
        c: (Decimal(sums_row[2 * i] or 0), int(sums_row[2 * i + 1])) for i, c in enumerate(SCORE_COLUMNS)
    }
    focus = dict(
        con.execute(
            f"SELECT r.primary_pillar, count(*) {base} AND r.primary_pillar IS NOT NULL AND r.status IN ('Successful', 'Partial') GROUP BY 1",
            [partition],
        ).fetchall()
    )
    total = int(con.execute("SELECT count(*) FROM accounts WHERE partition = ?", [partition]).fetchone()[0])
    return Figures(
        total_accounts=total,
        status_counts={k: int(v) for k, v in statuses.items()},
        accounts_called=int(sources.get("called", 0)),
        carried_forward=int(sources.get("carried", 0)),
        score_sums=score_sums,
        focus_counts={k: int(v) for k, v in focus.items()},
    )


def failed_accounts(con: duckdb.DuckDBPyConnection, partition: str) -> list[str]:
    rows = con.execute(
        """SELECT r.account_id FROM ratings r JOIN accounts a ON a.partition = r.partition AND a.account_id = r.account_id
           WHERE r.partition = ? AND r.status = 'Failed' ORDER BY r.account_id""",
        [partition],
    ).fetchall()
    return [r[0] for r in rows]


def latest_run(con: duckdb.DuckDBPyConnection, partition: str) -> dict | None:
    """The latest esg_ratings run of the partition (its ESG API traffic)."""
    cur = con.execute(
        """SELECT run_id, mode, started_at, ended_at, requests, retries, rate_limited, token_refreshes
           FROM ratings_runs WHERE partition = ? AND ended_at IS NOT NULL ORDER BY ended_at DESC LIMIT 1""",
        [partition],
    )
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cur.description], row))


def ratings_completed(con: duckdb.DuckDBPyConnection, partition: str) -> bool:
    row = con.execute("SELECT completed_at FROM ratings_partitions WHERE partition = ?", [partition]).fetchone()
    return row is not None and row[0] is not None
