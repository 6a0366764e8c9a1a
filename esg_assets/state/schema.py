"""Tables of the state database. Dates and instants are stored as text (YYYY-MM-DD, RFC 3339
UTC) so they compare exactly and never pass through a time zone; scores are the exact decimal
text the API sent.

`accounts` and `ratings` hold one row per (partition, account) for every day kept (up to
ESG_RETENTION_DAYS), so they have no PRIMARY KEY: DuckDB keeps a PRIMARY KEY as an ART index
that grows with N x days of history and must be in memory to check every insert. Uniqueness is
kept by the writers instead (accounts_repo, ratings_repo: delete-then-insert in one
transaction), and rows are written in partition then account order so DuckDB's zonemaps find a
partition, or a range of accounts inside it, without an index. Schema version 1 had those
PRIMARY KEYs; `migrate` rewrites such a database once (see db.py).

Version 3 (contract 1.1) adds each row's Verified On (`ratings.verified_on`, the partition of
the call that produced it: rule 4 of change detection), the day's carry-forward check
(`carry_checks`) and the check's figures in `job_history`; `migrate` derives Verified On for
the rows an older version wrote (`verified_on.backfill`).
"""

from __future__ import annotations

import duckdb

from esg_assets.state.verified_on import backfill

SCHEMA_VERSION = 3
# Tables that had PRIMARY KEY (partition, account_id) in version 1.
UNKEYED_TABLES = ("accounts", "ratings")

SCHEMA = [
    # The active accounts of a partition, de-duplicated (the later AMS record wins).
    """CREATE TABLE IF NOT EXISTS accounts (
        partition VARCHAR NOT NULL,
        account_id VARCHAR NOT NULL,
        account_name VARCHAR NOT NULL,
        updated_at VARCHAR NOT NULL)""",
    # One result per account and partition: what becomes its CSV row and error row.
    """CREATE TABLE IF NOT EXISTS ratings (
        partition VARCHAR NOT NULL,
        account_id VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        overall VARCHAR,
        environmental VARCHAR,
        social VARCHAR,
        governance VARCHAR,
        primary_pillar VARCHAR,
        primary_score VARCHAR,
        analysis_date VARCHAR,
        source VARCHAR NOT NULL,
        ams_updated_at VARCHAR NOT NULL,
        attempts INTEGER NOT NULL,
        error_kind VARCHAR,
        http_status INTEGER,
        error_message VARCHAR,
        last_attempt_at VARCHAR,
        run_id VARCHAR NOT NULL,
        verified_on VARCHAR)""",
    # The carry-forward check of a partition (docs/spec.md#carry-forward-check): one verdict per sampled account, written
    # by the fresh or resumed run that made the check (a targeted rerun leaves it as it was).
    """CREATE TABLE IF NOT EXISTS carry_checks (
        partition VARCHAR NOT NULL,
        account_id VARCHAR NOT NULL,
        outcome VARCHAR NOT NULL)""",
    # Where each partition's ratings stand: when fetching began (the changes-feed `since` of
    # the next partition) and whether every account has its result.
    """CREATE TABLE IF NOT EXISTS ratings_partitions (
        partition VARCHAR PRIMARY KEY,
        fetch_started_at VARCHAR,
        completed_at VARCHAR,
        last_run_id VARCHAR NOT NULL)""",
    # One row per run of esg_ratings: its mode and its ESG API traffic.
    """CREATE TABLE IF NOT EXISTS ratings_runs (
        partition VARCHAR NOT NULL,
        run_id VARCHAR NOT NULL,
        mode VARCHAR NOT NULL,
        started_at VARCHAR NOT NULL,
        ended_at VARCHAR,
        accounts_called INTEGER,
        carried_forward INTEGER,
        requests INTEGER,
        retries INTEGER,
        rate_limited INTEGER,
        token_refreshes INTEGER,
        feed_status VARCHAR,
        PRIMARY KEY (partition, run_id))""",
    # One row per run that produced a summary, kept for trend analysis.
    """CREATE TABLE IF NOT EXISTS job_history (
        partition VARCHAR NOT NULL,
        run_id VARCHAR NOT NULL,
        started_at VARCHAR,
        ended_at VARCHAR,
        duration_seconds DOUBLE,
        total_accounts INTEGER,
        successful INTEGER,
        partial INTEGER,
        failed INTEGER,
        accounts_called INTEGER,
        carried_forward INTEGER,
        success_rate DOUBLE,
        call_failure_rate DOUBLE,
        avg_overall DOUBLE,
        avg_environmental DOUBLE,
        avg_social DOUBLE,
        avg_governance DOUBLE,
        requests INTEGER,
        retries INTEGER,
        rate_limited INTEGER,
        token_refreshes INTEGER,
        carry_check_sampled INTEGER,
        carry_check_differed INTEGER,
        PRIMARY KEY (partition, run_id))""",
    """CREATE OR REPLACE VIEW job_history_v AS
        SELECT * FROM job_history ORDER BY partition, ended_at""",
    # The stored files of a partition as written (plain size, SHA-256, data records): the
    # manifest's entries, recorded by the step that wrote each file.
    """CREATE TABLE IF NOT EXISTS output_files (
        partition VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        bytes BIGINT NOT NULL,
        sha256 VARCHAR NOT NULL,
        rows BIGINT,
        run_id VARCHAR NOT NULL,
        written_at VARCHAR NOT NULL,
        PRIMARY KEY (partition, name))""",
    """CREATE TABLE IF NOT EXISTS schema_meta (version INTEGER NOT NULL)""",
]


def _keyed(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    row = con.execute(
        """SELECT count(*) FROM duckdb_constraints()
           WHERE database_name = current_database() AND table_name = ? AND constraint_type = 'PRIMARY KEY'""",
        [table],
    ).fetchone()
    return bool(row and row[0])


_NEW_COLUMNS = (
    ("ratings", "verified_on", "VARCHAR"),
    ("job_history", "carry_check_sampled", "INTEGER"),
    ("job_history", "carry_check_differed", "INTEGER"),
)


def _has_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                            "AND table_name = ?", [table]).fetchone()[0])


def _add_columns(con: duckdb.DuckDBPyConnection) -> bool:
    """Add the version-3 columns to tables an older version created; True when `ratings`
    gained `verified_on` (its rows then need a Verified On)."""
    added = False
    for table, column, kind in _NEW_COLUMNS:
        if not _has_table(con, table):
            continue
        present = con.execute(
            """SELECT count(*) FROM duckdb_columns() WHERE database_name = current_database()
               AND table_name = ? AND column_name = ?""", [table, column]).fetchone()[0]
        if not present:
            con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            added = added or table == "ratings"
    return added


def migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Bring the open database to SCHEMA_VERSION: create what is missing, add the version-3
    columns (and derive each old row's Verified On), and copy a version-1 table (with its
    PRIMARY KEY) into its unkeyed form, in partition and account order. The caller runs it in
    one transaction (`db.connect` does, through `db.transaction`), so a crash leaves either the
    old layout or the new one."""
    for table in UNKEYED_TABLES:
        if _keyed(con, table):
            con.execute(f"ALTER TABLE {table} RENAME TO {table}_v1")
    # Version 2 -> 3: new columns go last, where CREATE TABLE puts them on a new database.
    added = _add_columns(con)
    for statement in SCHEMA:
        con.execute(statement)
    for table in UNKEYED_TABLES:
        if _has_table(con, f"{table}_v1"):
            # By name: version 2 dropped the key, version 3 added columns (NULL here).
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {table}_v1 ORDER BY partition, account_id")
            con.execute(f"DROP TABLE {table}_v1")
            added = added or table == "ratings"
    if added:
        backfill(con)
    version = con.execute("SELECT max(version) FROM schema_meta").fetchone()[0]
    if version is not None and version > SCHEMA_VERSION:
        raise RuntimeError(
            f"the state database has schema version {version}, newer than this code ({SCHEMA_VERSION}): "
            "upgrade the job before running it against this database"
        )
    if version != SCHEMA_VERSION:
        con.execute("DELETE FROM schema_meta")
        con.execute("INSERT INTO schema_meta VALUES (?)", [SCHEMA_VERSION])

