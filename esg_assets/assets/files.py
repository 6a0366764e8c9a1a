"""`ratings_csv`: the day's ratings file and error file, written to the secure store."""


import dagster as dg

from esg_assets.assets.common import settings_or_fail, storage_failure
from esg_assets.assets.ratings import esg_ratings
from esg_assets.domain.csv_format import ERRORS_HEADER, RATINGS_HEADER, encode_lines
from esg_assets.domain.rows import error_fields, rating_fields
from esg_assets.jobs import STATE_DB_POOL
from esg_assets.observability import observed_step
from esg_assets.partitions import daily_partitions
from esg_assets.resources.state import StateResource, StoreResource
from esg_assets.state import report_queries as q
from esg_assets.storage.names import logical_name


@dg.asset(partitions_def=daily_partitions, deps=[esg_ratings], group_name="esg", kinds={"csv"}, pool=STATE_DB_POOL)
def ratings_csv(context: dg.AssetExecutionContext, state: StateResource, store: StoreResource) -> dg.MaterializeResult:
    """`FirmESGRatings_YYYYMMDD.csv`: one row per active account, ordered by Account ID, with
    its scores to two decimals, primary focus, Analysis Date and Processing Status; and
    `FirmESGErrors_YYYYMMDD.csv`: one row per Failed or Partial account saying why."""
    settings = settings_or_fail(context)
    partition = context.partition_key
    files = store.open(settings.storage)
    with observed_step(context, "ratings_csv", settings.storage.log_dir) as log, state.connect(settings.storage) as con, \
            storage_failure(context):
        missing = q.missing_results(con, partition)
        if not q.ratings_completed(con, partition) or missing:
            raise dg.Failure(
                description=f"the ratings of {partition} are incomplete ({missing} accounts without a result): "
                "materialize esg_ratings first"
            )
        ratings = files.write(
            logical_name(partition, "ratings"),
            encode_lines(RATINGS_HEADER, (rating_fields(r) for r in q.rating_rows(con, partition))),
        )
        errors = files.write(
            logical_name(partition, "errors"),
            encode_lines(ERRORS_HEADER, (error_fields(r) for r in q.error_rows(con, partition))),
        )
        rows = int(con.execute("SELECT count(*) FROM accounts WHERE partition = ?", [partition]).fetchone()[0])
        error_rows = int(
            con.execute(
                "SELECT count(*) FROM ratings WHERE partition = ? AND status IN ('Failed', 'Partial')", [partition]
            ).fetchone()[0]
        )
        log.event("files_written", files=[ratings.logical_name, errors.logical_name], rows=rows, error_rows=error_rows)
    return dg.MaterializeResult(
        metadata={
            "rows": dg.MetadataValue.int(rows),
            "error_rows": dg.MetadataValue.int(error_rows),
            "ratings_file": ratings.logical_name,
            "ratings_sha256": ratings.sha256,
            "errors_file": errors.logical_name,
            "errors_sha256": errors.sha256,
        }
    )
