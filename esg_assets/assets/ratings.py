"""`esg_ratings`: one result per active account, fetched or carried forward, committed as it
arrives (change detection §5, resume §6 and targeted reruns §7 of output-and-behaviour.md)."""


from datetime import date, datetime, timedelta, timezone

import dagster as dg
import duckdb

from esg_assets.assets.common import settings_or_fail, utc_now_text
from esg_assets.assets.accounts import active_accounts
from esg_assets.domain.models import AccountResult
from esg_assets.fetching import fetch_in_batches
from esg_assets.jobs import STATE_DB_POOL
from esg_assets.observability import JobLog, observed_step
from esg_assets.partitions import daily_partitions
from esg_assets.resources.auth import AuthenticationError
from esg_assets.resources.esg_api import FeedUnavailable
from esg_assets.resources.state import StateResource
from esg_assets.resources.upstream import Upstream, UpstreamResource
from esg_assets.state import ratings_repo as repo
from esg_assets.state.accounts_repo import account_count, unknown_ids

PROGRESS_EVERY = 10_000


class RatingsConfig(dg.Config):
    """Run config of esg_ratings (configuration.md)."""

    account_ids: list[str] = []  # targeted rerun: re-call exactly these accounts
    full_refresh: bool = False  # ignore change detection and call every account


def _fetch_start(since: str | None) -> datetime | None:
    if since is None:
        return None
    return datetime.strptime(since, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def _plan_carry(
    log: JobLog,
    con: duckdb.DuckDBPyConnection,
    clients: Upstream,
    partition: str,
    config: RatingsConfig,
    run_id: str,
) -> tuple[int, str]:
    """Carry forward what §5 allows from P; returns (rows carried, feed status)."""
    previous = repo.previous_completed(con, partition)
    if config.full_refresh:
        return 0, "not read (full_refresh)"
    if previous is None:
        return 0, "not read (no earlier completed partition)"
    p_partition, p_started = previous
    since = _fetch_start(p_started)
    if since is None:
        return 0, "not read (earlier partition has no fetch start)"
    try:
        changed = repo.load_feed(con, clients.esg.changed_accounts(since))
    except FeedUnavailable as err:
        log.event("changes_feed_unavailable", level="warning", message=f"{err}; calling every account")
        return 0, "unavailable"
    oldest = (date.fromisoformat(partition) - timedelta(days=clients.settings.max_rating_age_days)).isoformat()
    carried = repo.carry_forward(con, partition, p_partition, oldest, config.account_ids, run_id)
    log.event("changes_feed_read", since=p_started, previous_partition=p_partition, changed=changed, carried_forward=carried)
    return carried, "read"


def _mode(con: duckdb.DuckDBPyConnection, partition: str, config: RatingsConfig) -> str:
    """fresh, resume (the last attempt died) or rerun (named accounts of a completed day)."""
    existing = repo.partition_state(con, partition)
    completed = existing is not None and existing[1] is not None
    if config.account_ids and completed:
        return "rerun"
    if existing is not None and not completed:
        return "resume"
    return "fresh"


# The dependency on its own previous day makes an asset backfill run days in date order, so
# each day's change detection finds the day before it completed.
PREVIOUS_DAY = dg.AssetDep("esg_ratings", partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1))


@dg.asset(partitions_def=daily_partitions, deps=[active_accounts, PREVIOUS_DAY], group_name="esg", kinds={"duckdb"}, pool=STATE_DB_POOL)
def esg_ratings(
    context: dg.AssetExecutionContext,
    config: RatingsConfig,
    upstream: UpstreamResource,
    state: StateResource,
) -> dg.MaterializeResult:
    """One row per active account of the day: its Processing Status (Successful, Partial or
    Failed), the six ESG values as the API gave them, the Analysis Date, and for a failure what
    went wrong on the last of its attempts. Accounts unchanged since the previous completed day
    are carried forward without a call."""
    settings = settings_or_fail(context)
    partition, run_id = context.partition_key, context.run_id
    with observed_step(context, "esg_ratings", settings.storage.log_dir) as log, state.connect(settings.storage) as con:
        if account_count(con, partition) == 0:
            raise dg.Failure(description=f"no active-account list for {partition}: materialize active_accounts first")
        unknown = unknown_ids(con, partition, config.account_ids)
        if unknown:
            raise dg.Failure(description=f"not active accounts of {partition}: {', '.join(unknown)}", allow_retries=False)
        mode = _mode(con, partition, config)
        repo.record_run(con, partition, run_id, mode, utc_now_text())
        kept = 0
        if mode == "fresh":
            repo.begin_fresh(con, partition, run_id)
        elif mode == "resume":
            kept = repo.begin_resume(con, partition, run_id, config.account_ids)

        try:
            with upstream.open(settings.upstream) as clients:
                repo.set_fetch_started(con, partition, utc_now_text())
                carried, feed_status = (0, "not read (targeted rerun)")
                if mode != "rerun":
                    carried, feed_status = _plan_carry(log, con, clients, partition, config, run_id)
                to_call = repo.prepare_calls(con, partition, config.account_ids if mode == "rerun" else None)
                log.event("ratings_plan", mode=mode, to_call=to_call, carried_forward=carried, kept=kept,
                          changes_feed=feed_status, forced=len(config.account_ids), full_refresh=config.full_refresh)
                progress = {"done": 0}

                def commit(batch: list[AccountResult]) -> None:
                    repo.save_results(con, partition, run_id, batch)
                    before = progress["done"]
                    progress["done"] += len(batch)
                    if progress["done"] // PROGRESS_EVERY != before // PROGRESS_EVERY:
                        log.event("ratings_progress", done=progress["done"], to_call=to_call)

                called = fetch_in_batches(clients.esg.fetch_analysis, repo.calls(con), clients.workers, commit,
                                          stop=clients.stop)
                counts = clients.counters.snapshot()
        except AuthenticationError as err:
            raise dg.Failure(description=f"critical: {err}", allow_retries=False) from None

        if mode != "rerun":
            repo.mark_completed(con, partition, utc_now_text())
        repo.finish_run(
            con, partition, run_id, ended_at=utc_now_text(), accounts_called=called,
            carried_forward=carried, requests=counts.requests, retries=counts.retries,
            rate_limited=counts.rate_limited, token_refreshes=counts.token_refreshes, feed_status=feed_status,
        )
        statuses = repo.status_counts(con, partition)
        error_kinds = repo.error_kind_counts(con, partition)
        log.event("ratings_done", called=called, carried_forward=carried, kept=kept, statuses=statuses,
                  error_kinds=error_kinds, requests=counts.requests, retries=counts.retries,
                  rate_limited=counts.rate_limited, token_refreshes=counts.token_refreshes)
    return dg.MaterializeResult(
        metadata={
            "mode": mode,
            "accounts_called_this_run": dg.MetadataValue.int(called),
            "carried_forward_this_run": dg.MetadataValue.int(carried),
            "successful": dg.MetadataValue.int(statuses.get("Successful", 0)),
            "partial": dg.MetadataValue.int(statuses.get("Partial", 0)),
            "failed": dg.MetadataValue.int(statuses.get("Failed", 0)),
            "api_requests": dg.MetadataValue.int(counts.requests),
            "api_retries": dg.MetadataValue.int(counts.retries),
            "api_rate_limited": dg.MetadataValue.int(counts.rate_limited),
            "api_token_refreshes": dg.MetadataValue.int(counts.token_refreshes),
            "changes_feed": feed_status,
        }
    )
