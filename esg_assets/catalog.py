"""The data dictionary and the catalog facts of the assets, in one place.

Each column's meaning is written once, here, in the user guide's words: the assets' column schemas
(`dagster/column_schema`), the Parquet file's typed columns and the user guide's column tables all
come from these lists (a test renders the tables and finds them in docs/user-guide.md), so the
catalog, the files and the documentation cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import dagster as dg

from esg_assets.storage.store import StoredFile


@dataclass(frozen=True)
class Column:
    """One column of a file or table: its header, its typed name and type, what it means."""

    header: str  # as in the CSV header (or the state table's column for esg_ratings)
    name: str  # the typed name (Parquet column, warehouse column)
    type: str  # DuckDB / warehouse type
    meaning: str
    example: str = ""


_RATINGS: tuple[tuple[str, str, str, str, str], ...] = (
    # CSV header, typed name, type, meaning (the user guide's words), example
    ("Account ID", "account_id", "VARCHAR", "the account's identifier in the account management system", "`ACC-0000042`"),
    ("Account Name", "account_name", "VARCHAR",
     "the account's name, always as the account management system gives it today", "`Harbor Growth Fund`"),
    ("Overall ESG Score", "overall_score", "DECIMAL(5,2)", "overall ESG rating, 0 to 100 (higher is better)", "`72.46`"),
    ("Environmental Score", "environmental_score", "DECIMAL(5,2)", "the Environmental pillar score, 0 to 100", "`68.10`"),
    ("Social Score", "social_score", "DECIMAL(5,2)", "the Social pillar score, 0 to 100", "`75.00`"),
    ("Governance Score", "governance_score", "DECIMAL(5,2)", "the Governance pillar score, 0 to 100", "`74.32`"),
    ("Primary ESG Focus", "primary_esg_focus", "VARCHAR",
     "the pillar the provider considers the account's main focus: `Environmental`, `Social` or `Governance`", "`Social`"),
    ("Primary Focus Score", "primary_focus_score", "DECIMAL(5,2)", "the provider's score for that primary focus, 0 to 100",
     "`75.00`"),
    ("Analysis Date", "analysis_date", "DATE",
     "the day the provider produced this analysis (`YYYY-MM-DD`); see \"Carried-forward rows\"", "`2026-11-26`"),
    ("Processing Status", "processing_status", "VARCHAR", "`Successful`, `Partial` or `Failed` (below)", "`Successful`"),
)
RATINGS_COLUMNS: tuple[Column, ...] = tuple(Column(*row) for row in _RATINGS)
# The Parquet file's one column beyond the CSV's (docs/spec.md#parquet).
PARTITION_DATE = Column("", "partition_date", "DATE", "the day of the file (the partition), `YYYY-MM-DD`", "`2026-11-27`")
SCORE_NAMES = frozenset(c.name for c in RATINGS_COLUMNS if c.type.startswith("DECIMAL"))

_ERRORS: tuple[tuple[str, str, str, str], ...] = (
    ("Account ID", "account_id", "VARCHAR", "the account"),
    ("Attempts", "attempts", "INTEGER",
     "how many times the provider was asked for this account in the run that produced its result"),
    ("Error Kind", "error_kind", "VARCHAR", "what went wrong, one of the kinds below (for the last attempt)"),
    ("HTTP Status", "http_status", "INTEGER",
     "the provider's answer code for the last attempt; empty when no answer came (`timeout`, `connection`); "
     "`200` for `invalid_response`, `no_data` and `partial_data`"),
    ("Error Message", "error_message", "VARCHAR", "a short technical description of the last attempt"),
    ("Last Attempt At", "last_attempt_at", "VARCHAR", "when the last attempt was made, in UTC (`2026-11-27T11:02:13Z`)"),
)
ERRORS_COLUMNS: tuple[Column, ...] = tuple(Column(*row) for row in _ERRORS)

_BY_NAME = {c.name: c for c in (*RATINGS_COLUMNS, *ERRORS_COLUMNS)}
# active_accounts is the state database's `accounts` table: the day's list, de-duplicated.
ACTIVE_ACCOUNTS_COLUMNS: tuple[Column, ...] = (
    _BY_NAME["account_id"], _BY_NAME["account_name"],
    Column("updated_at", "updated_at", "VARCHAR",
           "when the account management system last changed the account, in UTC (`2026-11-10T09:30:00Z`)"),
)
# esg_ratings is the state database's `ratings` table: one result per active account of the day.
ESG_RATINGS_COLUMNS: tuple[Column, ...] = (
    _BY_NAME["account_id"],
    Column("status", "status", "VARCHAR", _BY_NAME["processing_status"].meaning),
    *(Column(col, col, "VARCHAR", _BY_NAME[f"{col}_score"].meaning + "; the exact decimal the provider sent, unrounded")
      for col in ("overall", "environmental", "social", "governance")),
    Column("primary_pillar", "primary_pillar", "VARCHAR", _BY_NAME["primary_esg_focus"].meaning),
    Column("primary_score", "primary_score", "VARCHAR",
           _BY_NAME["primary_focus_score"].meaning + "; the exact decimal the provider sent, unrounded"),
    Column("analysis_date", "analysis_date", "VARCHAR", _BY_NAME["analysis_date"].meaning),
    Column("source", "source", "VARCHAR",
           "`called` when the provider was asked today, `carried` when yesterday's rating was reused"),
    *(_BY_NAME[n] for n in ("attempts", "error_kind", "http_status", "error_message", "last_attempt_at")),
)


def table_schema(columns: tuple[Column, ...]) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(c.name, c.type, description=c.meaning) for c in columns])


def column_schema(columns: tuple[Column, ...]) -> dict[str, Any]:
    """Definition metadata: the column schema the catalog shows for an asset."""
    return {"dagster/column_schema": table_schema(columns)}


def markdown_table(columns: tuple[Column, ...], numbered: bool = True) -> str:
    """A column table of the user guide (docs/user-guide.md holds exactly this text)."""
    if numbered:
        lines = ["| # | column | meaning | example |", "|---|---|---|---|"]
        lines += [f"| {i} | `{c.header}` | {c.meaning} | {c.example} |" for i, c in enumerate(columns, 1)]
    else:
        lines = ["| column | meaning |", "|---|---|"] + [f"| `{c.header}` | {c.meaning} |" for c in columns]
    return "\n".join(lines)


def parquet_table() -> str:
    """The Parquet file's typed columns as the user guide lists them."""
    lines = ["| column | type | meaning |", "|---|---|---|"]
    lines += [f"| `{c.name}` | `{c.type}` | {c.meaning} |" for c in (*RATINGS_COLUMNS, PARTITION_DATE)]
    return "\n".join(lines)


# Who answers for the assets in the catalog, and what the catalog marks as personal data
# (account names and IDs, docs/security.md "Personal data").
OWNERS = ["team:esg-data-engineering"]
PERSONAL_DATA = {"personal_data": "account_names"}
PERSONAL_IDS = {"personal_data": "account_ids"}
# Bumped when an asset's output changes for the same inputs (Dagster shows it as code version).
CODE_VERSION = "contract-1.1"
# Every asset of the day is expected between the 05:00 start and the 09:00 deadline (Chicago).
FRESHNESS = dg.FreshnessPolicy.cron(deadline_cron="0 9 * * *", lower_bound_delta=timedelta(hours=4),
                                    timezone="America/Chicago")


def asset_facts(personal: dict[str, str]) -> dict[str, Any]:
    """The keyword arguments every daily asset shares: owners, tags, code version, freshness."""
    return {"owners": OWNERS, "tags": personal, "code_version": CODE_VERSION, "freshness_policy": FRESHNESS}


def file_metadata(kind: str, stored: StoredFile, rows: int | None = None) -> dict[str, Any]:
    """Materialization metadata of one stored file: its name, location, size and SHA-256."""
    location = (dg.MetadataValue.url(stored.location) if stored.location.startswith("s3://")
                else dg.MetadataValue.path(stored.location))
    metadata: dict[str, Any] = {
        f"{kind}_file": stored.logical_name,
        f"{kind}_location": location,
        f"{kind}_bytes": dg.MetadataValue.int(stored.size),
        f"{kind}_sha256": stored.sha256,
    }
    if rows is not None:
        metadata[f"{kind}_rows"] = dg.MetadataValue.int(rows)
    return metadata


def row_counts(rows: int) -> dict[str, Any]:
    """Dagster's row-count keys (the catalog plots them per partition)."""
    return {"dagster/row_count": dg.MetadataValue.int(rows), "dagster/partition_row_count": dg.MetadataValue.int(rows)}
