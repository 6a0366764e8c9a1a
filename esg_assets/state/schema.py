"""Tables of the state database. Dates and instants are stored as text (YYYY-MM-DD, RFC 3339
UTC) so they compare exactly and never pass through a time zone; scores are the exact decimal
text the API sent."""

SCHEMA = [
    # The active accounts of a partition, de-duplicated (the later AMS record wins).
    """CREATE TABLE IF NOT EXISTS accounts (
        partition VARCHAR NOT NULL,
        account_id VARCHAR NOT NULL,
        account_name VARCHAR NOT NULL,
        updated_at VARCHAR NOT NULL,
        PRIMARY KEY (partition, account_id))""",
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
        PRIMARY KEY (partition, account_id))""",
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
        PRIMARY KEY (partition, run_id))""",
    """CREATE OR REPLACE VIEW job_history_v AS
        SELECT * FROM job_history ORDER BY partition, ended_at""",
]
