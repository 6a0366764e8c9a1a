"""`esg-ratings rerun` and `esg-ratings history`: job commands of the command line."""

from __future__ import annotations

import argparse
import re
from datetime import date

from esg_assets.cli.errors import CliError
from esg_assets.domain.models import ACCOUNT_ID


def _partition(value: str) -> str:
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError
        date.fromisoformat(value)
    except ValueError:
        raise CliError(f"the date {value!r} is not a valid YYYY-MM-DD date") from None
    return value


def rerun(args: argparse.Namespace) -> int:
    """Re-call exactly the named accounts for the day and rebuild its files, recorded in the
    Dagster instance (DAGSTER_HOME) like any other run, so it shows in the UI. Dagster is
    imported once the request is known good: a refused rerun answers without its CPU-second."""
    from esg_assets.settings import load_storage
    from esg_assets.state.accounts_repo import account_count, unknown_ids
    from esg_assets.state.db import connect

    partition = _partition(args.date)
    bad = [a for a in args.account if not ACCOUNT_ID.fullmatch(a)]
    if bad:
        raise CliError(f"malformed account IDs: {', '.join(bad)}")
    settings = load_storage()
    if not settings.state_db.exists():
        raise CliError(f"no state database at {settings.state_db}: run the day before rerunning accounts")
    with connect(settings.state_db, settings.encryption_key_bytes, lock_wait_seconds=600) as con:
        if account_count(con, partition) == 0:
            raise CliError(f"no active-account list for {partition}: run the day first")
        unknown = unknown_ids(con, partition, list(args.account))
    if unknown:
        raise CliError(f"not active accounts of {partition}: {', '.join(unknown)}")

    import dagster as dg

    from esg_assets.definitions import defs
    from esg_assets.names import DAILY_SUMMARY, ESG_RATINGS, RATINGS_CSV

    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={dg.AssetKey(n) for n in (ESG_RATINGS, RATINGS_CSV, DAILY_SUMMARY)}
    )
    result = job.execute_in_process(
        partition_key=partition,
        run_config={
            "ops": {ESG_RATINGS: {"config": {"account_ids": list(args.account), "full_refresh": False}}},
            # The run's events go to the instance (and the UI); the terminal gets one line.
            "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
        },
        instance=dg.DagsterInstance.get(),
        raise_on_error=False,
        tags={"esg/trigger": "cli-rerun"},
    )
    if not result.success:
        failures = [e.event_specific_data.error.message.strip().splitlines()[-1]
                    for e in result.all_events if e.is_step_failure and e.event_specific_data.error]
        raise CliError(f"rerun of {partition} failed (run {result.run_id}): {failures[0] if failures else 'see the run'}")
    print(f"rerun of {partition} for {len(set(args.account))} accounts succeeded (run {result.run_id})")
    return 0


def history(args: argparse.Namespace) -> int:
    """Print the job-history table of the last N days, one run per line."""
    from esg_assets.settings import load_storage
    from esg_assets.state.db import connect

    settings = load_storage()
    with connect(settings.state_db, settings.encryption_key_bytes, lock_wait_seconds=60) as con:
        rows = con.execute(
            """SELECT partition, run_id, duration_seconds, total_accounts, successful, partial, failed,
                      accounts_called, carried_forward, call_failure_rate, requests
               FROM job_history WHERE partition >= strftime(current_date - ?::INTEGER, '%Y-%m-%d')
               ORDER BY partition, ended_at""",
            [args.days],
        ).fetchall()
    header = ("partition", "run", "seconds", "total", "ok", "partial", "failed", "called", "carried", "fail_rate", "requests")
    print("\t".join(header))
    for row in rows:
        print("\t".join("" if v is None else str(v)[:8] if i == 1 else str(v) for i, v in enumerate(row)))
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rerun", help="re-call chosen accounts for a day and rebuild its files")
    p.add_argument("date", help="partition, YYYY-MM-DD")
    p.add_argument("--account", action="append", required=True, help="account ID (repeatable)")
    p.set_defaults(func=rerun)
    h = sub.add_parser("history", help="job history for trend analysis")
    h.add_argument("--days", type=int, default=30)
    h.set_defaults(func=history)
