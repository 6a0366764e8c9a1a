"""`esg_ratings`: one result per active account, fetched or carried forward, committed as it
arrives (docs/spec.md: #change-detection, #resume, #targeted-rerun)."""


from datetime import datetime, timezone

import dagster as dg
import duckdb

from esg_assets import catalog
from esg_assets.assets.accounts import active_accounts
from esg_assets.assets.start import run_start, settings_or_fail
from esg_assets.clock import utc_text
from esg_assets.domain.carry_check import CarryCheck, outcome
from esg_assets.domain.models import AccountResult
from esg_assets.domain.plan import DayPlan, Mode, decide_mode, plan_day
from esg_assets.worker_pool import fetch_in_batches
from esg_assets.jobs import STATE_DB_POOL
from esg_assets.names import ESG_RATINGS
from esg_assets.observability import JobLog, observed_step
from esg_assets.partitions import daily_partitions
from esg_assets.progress import ProgressReporter
from esg_assets.resources.auth import AuthenticationError
from esg_assets.resources.http import TlsVerificationError
from esg_assets.resources.esg_api import FeedUnavailable
from esg_assets.resources.state import StateResource
from esg_assets.resources.clients import UpstreamClients, UpstreamResource
from esg_assets.settings import UpstreamSettings
from esg_assets.state import carry_repo
from esg_assets.state import ratings_repo as repo
from esg_assets.state.accounts_repo import account_count, unknown_ids

PROGRESS_EVERY = 10_000


class RatingsConfig(dg.Config):
    """Run config of esg_ratings (configuration.md)."""

    account_ids: list[str] = []  # targeted rerun: re-call exactly these accounts
    full_refresh: bool = False  # ignore change detection and call every account


# The state database's instants: UTC text with microseconds (clock.utc_text), read back here.
_INSTANT = "%Y-%m-%dT%H:%M:%S.%fZ"


def _fetch_start(since: str | None) -> datetime:
    return datetime.strptime(since, _INSTANT).replace(tzinfo=timezone.utc)


def _plan(con: duckdb.DuckDBPyConnection, partition: str, config: RatingsConfig, settings: UpstreamSettings) -> DayPlan:
    """The facts the plan needs, from the state database."""
    existing = repo.partition_state(con, partition)
    mode = decide_mode(existing is not None, existing is not None and existing[1] is not None, config.account_ids)
    return plan_day(partition, mode, repo.previous_completed(con, partition), account_ids=config.account_ids,
                    full_refresh=config.full_refresh, max_age_days=settings.max_rating_age_days,
                    sample_size=settings.carry_check_sample)


def _carry(log: JobLog, con: duckdb.DuckDBPyConnection, clients: UpstreamClients, plan: DayPlan, run_id: str) -> tuple[DayPlan, int]:
    """Read the feed, list the carry candidates, draw the sample, carry the rest (docs/spec.md#change-detection, #carry-forward-check)."""
    if not plan.carry:
        return plan, 0
    try:
        changed = carry_repo.load_feed(con, clients.esg.changed_accounts(_fetch_start(plan.feed_since)))
    except FeedUnavailable as err:
        log.event("changes_feed_unavailable", level="warning", message=f"{err}; calling every account")
        return plan.without_feed("unavailable"), 0
    candidates = carry_repo.find_candidates(con, plan)
    plan = plan.with_sample(carry_repo.candidate_ids(con))
    carried = carry_repo.carry_forward(con, plan, run_id)
    log.event("changes_feed_read", since=plan.feed_since, previous_partition=plan.previous, changed=changed,
              candidates=candidates, sampled=len(plan.sample), carried_forward=carried)
    return plan, carried


def _check(con: duckdb.DuckDBPyConnection, plan: DayPlan, run_id: str) -> tuple[CarryCheck, int]:
    """Judge the sampled calls; unverified accounts get P's row back. Returns the check and
    how many of this run's called rows became carried again."""
    verdicts = {a: outcome(p, d) for a, (p, d) in carry_repo.sampled_rows(con, plan).items()}
    check = CarryCheck.of(verdicts)
    restored = carry_repo.restore_carried(con, plan, check.unverified, run_id)
    carry_repo.save_check(con, plan.partition, verdicts)
    return check, restored


# The dependency on its own previous day makes an asset backfill run days in date order, so
# each day's change detection finds the day before it completed.
PREVIOUS_DAY = dg.AssetDep(ESG_RATINGS, partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1))


@dg.asset(partitions_def=daily_partitions, deps=[active_accounts, PREVIOUS_DAY], group_name="esg", kinds={"duckdb"},
          metadata=catalog.column_schema(catalog.ESG_RATINGS_COLUMNS), **catalog.asset_facts(catalog.PERSONAL_IDS), pool=STATE_DB_POOL)
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
        # The run config enters the plan once; from here on the plan carries it (`forced`).
        plan = _plan(con, partition, config, settings.upstream)
        unknown = unknown_ids(con, partition, list(plan.forced))
        if unknown:
            raise dg.Failure(description=f"not active accounts of {partition}: {', '.join(unknown)}", allow_retries=False)
        mode = plan.mode.value
        repo.record_run(con, partition, run_id, mode, utc_text(precision="microseconds"))
        kept = 0
        if plan.mode is Mode.FRESH:
            repo.begin_fresh(con, partition, run_id)
        elif plan.mode is Mode.RESUME:
            kept = repo.begin_resume(con, partition, run_id, plan.forced)

        try:
            with upstream.open(settings.upstream) as clients:
                repo.set_fetch_started(con, partition, utc_text(precision="microseconds"))
                plan, carried = _carry(log, con, clients, plan, run_id)
                to_call = repo.prepare_calls(con, partition, plan.calls_exactly)
                log.event("ratings_plan", mode=mode, to_call=to_call, carried_forward=carried, kept=kept,
                          changes_feed=plan.reason, forced=len(plan.forced), full_refresh=plan.full_refresh,
                          sample=list(plan.sample), oldest_verified_on=plan.oldest_verified_on)
                progress = {"done": 0}
                forecast = ProgressReporter(context, log, settings.storage.log_dir.parent / "metrics", to_call=to_call,
                                            configured_rate=settings.upstream.rate_limit_per_second,
                                            run_start=run_start(context))
                forecast(0)

                def commit(batch: list[AccountResult]) -> None:
                    repo.save_results(con, partition, run_id, batch)
                    before = progress["done"]
                    progress["done"] += len(batch)
                    if progress["done"] // PROGRESS_EVERY != before // PROGRESS_EVERY:
                        log.event("ratings_progress", done=progress["done"], to_call=to_call)

                called = fetch_in_batches(clients.esg.fetch_analysis, repo.calls(con), clients.workers, commit,
                                          stop=clients.stop, on_tick=forecast)
                forecast(called, final=True)
                counts = clients.counters.snapshot()
        except (AuthenticationError, TlsVerificationError) as err:
            raise dg.Failure(description=f"critical: {err}", allow_retries=False) from None

        feed_status = plan.reason
        check = CarryCheck()
        if plan.mode is not Mode.RERUN:
            check, restored = _check(con, plan, run_id)
            called, carried = called - restored, carried + len(check.unverified)
            log.event("carry_check", **check.to_json())
            repo.mark_completed(con, partition, utc_text(precision="microseconds"))
        repo.finish_run(
            con, partition, run_id, ended_at=utc_text(precision="microseconds"), accounts_called=called,
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
            **catalog.row_counts(sum(statuses.values())),
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
            "carry_check_sampled": dg.MetadataValue.int(check.sampled),
            "carry_check_differed": dg.MetadataValue.int(len(check.differed)),
        }
    )
