"""`ratings_csv`: the day's ratings file, error file, Parquet file and workbook, written to the
secure store."""


import dagster as dg

from esg_assets import catalog
from esg_assets.assets.failures import storage_failure
from esg_assets.assets.start import settings_or_fail
from esg_assets.assets.ratings import esg_ratings
from esg_assets.jobs import STATE_DB_POOL
from esg_assets.observability import observed_step
from esg_assets.outputs.day_files import write_rating_files
from esg_assets.outputs.sheet_xml import SheetFull
from esg_assets.partitions import daily_partitions
from esg_assets.resources.state import StateResource, StoreResource
from esg_assets.state import report_queries as q


@dg.asset(
    partitions_def=daily_partitions, deps=[esg_ratings], group_name="esg", kinds={"csv", "parquet", "excel"},
    metadata={**catalog.column_schema(catalog.RATINGS_COLUMNS), "errors_column_schema": catalog.table_schema(catalog.ERRORS_COLUMNS)},
    **catalog.asset_facts(catalog.PERSONAL_DATA), pool=STATE_DB_POOL,
)
def ratings_csv(context: dg.AssetExecutionContext, state: StateResource, store: StoreResource) -> dg.MaterializeResult:
    """`FirmESGRatings_YYYYMMDD.csv`: one row per active account, ordered by Account ID, with
    its scores to two decimals, primary focus, Analysis Date and Processing Status; the same rows
    as `FirmESGRatings_YYYYMMDD.parquet` (typed, for warehouses) and `FirmESGRatings_YYYYMMDD.xlsx`
    (for people in Excel); and `FirmESGErrors_YYYYMMDD.csv`: one row per Failed or Partial account
    saying why."""
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
        try:
            written = write_rating_files(con, files, partition, context.run_id)
        except SheetFull as err:  # the CSVs and the Parquet file are stored; a retry meets the same
            raise dg.Failure(description=f"{err}; the day's CSVs and Parquet file are stored, its workbook and manifest are not",
                             allow_retries=False) from None
        by_kind = {w.kind: w for w in written}
        rows, error_rows = by_kind["ratings"].rows or 0, by_kind["errors"].rows or 0
        log.event("files_written", files=[w.stored.logical_name for w in written], rows=rows, error_rows=error_rows)
    metadata: dict = {**catalog.row_counts(rows), "rows": dg.MetadataValue.int(rows),
                      "error_rows": dg.MetadataValue.int(error_rows)}
    for w in written:
        metadata.update(catalog.file_metadata(w.kind, w.stored, w.rows))
    return dg.MaterializeResult(metadata=metadata)
