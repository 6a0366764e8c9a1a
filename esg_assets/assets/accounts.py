"""`active_accounts`: the firm's complete list of active accounts for the day."""


import dagster as dg

from esg_assets import catalog
from esg_assets.assets.start import settings_or_fail
from esg_assets.jobs import STATE_DB_POOL
from esg_assets.observability import observed_step
from esg_assets.partitions import daily_partitions
from esg_assets.resources.ams import AmsListIncomplete
from esg_assets.resources.auth import AuthenticationError
from esg_assets.resources.http import TlsVerificationError
from esg_assets.resources.state import StateResource
from esg_assets.resources.clients import UpstreamResource
from esg_assets.state.accounts_repo import replace_accounts


@dg.asset(partitions_def=daily_partitions, group_name="esg", kinds={"duckdb"},
          metadata=catalog.column_schema(catalog.ACTIVE_ACCOUNTS_COLUMNS), **catalog.asset_facts(catalog.PERSONAL_DATA), pool=STATE_DB_POOL)
def active_accounts(
    context: dg.AssetExecutionContext, upstream: UpstreamResource, state: StateResource
) -> dg.MaterializeResult:
    """One row per active account of the day, as the Account Management System lists it
    (Account ID, Account Name, last change). The list is complete or the run fails: no file is
    ever produced from a partial list. An ID listed twice keeps its later record."""
    settings = settings_or_fail(context)
    partition = context.partition_key
    with observed_step(context, "active_accounts", settings.storage.log_dir) as log:
        log.event("job_start")
        try:
            with upstream.open(settings.upstream) as clients, state.connect(settings.storage) as con:
                total, duplicates = replace_accounts(con, partition, clients.ams.active_account_pages())
        except (AmsListIncomplete, AuthenticationError, TlsVerificationError) as err:
            raise dg.Failure(description=f"critical: {err}", allow_retries=False) from None
        if duplicates:
            log.event("accounts_duplicated", level="warning", duplicates_dropped=duplicates,
                      message="the AMS listed account IDs more than once; kept the later record of each")
        log.event("accounts_listed", accounts=total, duplicates_dropped=duplicates)
    return dg.MaterializeResult(
        metadata={**catalog.row_counts(total), "accounts": dg.MetadataValue.int(total), "duplicates_dropped": dg.MetadataValue.int(duplicates)}
    )
