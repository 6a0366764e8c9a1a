"""Reading a partition's results back: CSV rows in Account ID order, and summary figures."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import duckdb

from esg_assets.domain.models import ErrorRow, RatingRow

# Rows per ordered read of the CSV files: bounds DuckDB's sort and join to one chunk, and the
# Python tuples of one chunk. 20,000 rather than 50,000: 100,000 rows read three times (CSV,
# Parquet, workbook) peaked 25 MB lower at the same CPU (docs/benchmarks.md, session 4).
ORDERED_CHUNK = 20_000
# Rows of a chunk turned into Python tuples at a time: DuckDB keeps the chunk's result (columnar,
# a few MB), Python only this many rows of it (20,000 tuples at once were about 30 MB of the
# files step's peak; docs/benchmarks.md, "Peak RSS, second pass").
FETCH_ROWS = 2_000
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
    more than one chunk, whatever the number of accounts. A chunk's result is fetched FETCH_ROWS
    rows at a time through a cursor of its own (same database, same catalog), so a query `con`
    runs meanwhile cannot replace the pending result. (A relation, `con.sql`, would keep its own
    result too, but DuckDB 1.5.5 read these chunks through one with rows repeated and out of
    order: docs/benchmarks.md, "Peak RSS, second pass".)"""
    catalog = con.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
    with con.cursor() as reader:
        reader.execute('USE "' + catalog.replace('"', '""') + '"')  # a quoted identifier, whatever the name
        after = ""
        while True:
            result = reader.execute(sql, [*params, after, chunk])
            read = 0
            while batch := result.fetchmany(FETCH_ROWS):
                read += len(batch)
                after = batch[-1][0]
                yield from batch
            if read < chunk:
                return


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


@dataclass(frozen=True)
class DayFigures:
    """Everything the summary and the report read from the day's rows, in one scan."""

    figures: Figures
    failed_accounts: list[str]  # Account IDs of the Failed rows, in Account ID order
    histograms: dict[str, list[int]]  # score -> counts per bin (trends.score_histograms)


_FINAL = "r.status IN ('Successful', 'Partial')"


def _bin(exact: str, bins: int) -> str:
    """The histogram bin of a score in 0..100 (see trends.score_histograms): floor(v * bins / 100)
    as floor(floor(v * bins) / 100), exact on DECIMAL, clamped into the first and last bins."""
    return f"least(greatest(fdiv(floor({exact} * {bins}), 100), 0), {bins} - 1)::INTEGER"


def day_figures(con: duckdb.DuckDBPyConnection, partition: str, bins: int = 10) -> DayFigures:
    """The day's figures, failed accounts and score histograms from one scan of its rows.

    The scores are summed and binned as DECIMAL(18,10) (see `score_decimal`), counting in the
    same scan the scores that do not fit it; only a partition holding one is read a second
    time, in DECIMAL(38,20)."""
    row = _day_row(con, partition, bins, fast=True)
    if row[-1]:
        row = _day_row(con, partition, bins, fast=False)
    statuses, sources, total, focus, failed = row[0] or {}, row[1] or {}, row[2], row[3] or {}, row[4] or []
    at = 5
    score_sums: dict[str, tuple[Decimal, int]] = {}
    histograms: dict[str, list[int]] = {}
    for c in SCORE_COLUMNS:
        total_sum, present, counts = row[at], row[at + 1], row[at + 2] or {}
        at += 3
        score_sums[c] = (Decimal(total_sum or 0), int(present))
        histograms[c] = [int(counts.get(i, 0)) for i in range(bins)]
    return DayFigures(
        figures=Figures(
            total_accounts=int(total),
            status_counts={k: int(v) for k, v in statuses.items()},
            accounts_called=int(sources.get("called", 0)),
            carried_forward=int(sources.get("carried", 0)),
            score_sums=score_sums,
            focus_counts={k: int(v) for k, v in focus.items()},
        ),
        failed_accounts=list(failed),
        histograms=histograms,
    )


def _day_row(con: duckdb.DuckDBPyConnection, partition: str, bins: int, fast: bool) -> tuple:
    """One aggregate over the active accounts of the day joined to their results."""
    parts = []
    for c in SCORE_COLUMNS:
        exact = f"TRY_CAST(r.{c} AS DECIMAL(18,10))" if fast else f"CAST(r.{c} AS DECIMAL(38,20))"
        parts.append(f"sum({exact}) FILTER (WHERE {_FINAL}), count(r.{c}) FILTER (WHERE {_FINAL}), "
                     f"histogram({_bin(exact, bins)}) FILTER (WHERE {_FINAL} AND r.{c} IS NOT NULL)")
    odd = " OR ".join(f"NOT regexp_full_match(r.{c}, '{_FITS_18_10}')" for c in SCORE_COLUMNS)
    sql = f"""SELECT histogram(r.status), histogram(r.source), count(*),
                     histogram(r.primary_pillar) FILTER (WHERE {_FINAL} AND r.primary_pillar IS NOT NULL),
                     list(r.account_id ORDER BY r.account_id) FILTER (WHERE r.status = 'Failed'),
                     {", ".join(parts)},
                     {f"count(*) FILTER (WHERE {_FINAL} AND ({odd}))" if fast else "0"}
              FROM accounts a LEFT JOIN ratings r ON r.partition = a.partition AND r.account_id = a.account_id
              WHERE a.partition = ?"""
    result = con.execute(sql, [partition]).fetchone()
    assert result is not None  # an aggregate without GROUP BY always has its one row
    return result


def figures(con: duckdb.DuckDBPyConnection, partition: str) -> Figures:
    return day_figures(con, partition).figures


def call_counts(con: duckdb.DuckDBPyConnection, partition: str) -> tuple[int, int]:
    """(Failed results, accounts called) of the day's active accounts: the two figures of the
    call-failure check, counted in one scan without the scores."""
    row = con.execute(
        """SELECT count(*) FILTER (WHERE r.status = 'Failed'), count(*) FILTER (WHERE r.source = 'called')
           FROM ratings r JOIN accounts a ON a.partition = r.partition AND a.account_id = r.account_id
           WHERE r.partition = ?""",
        [partition],
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def failed_accounts(con: duckdb.DuckDBPyConnection, partition: str) -> list[str]:
    return day_figures(con, partition).failed_accounts


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
