"""The catalog a Dagster user sees, read from the loaded definitions: column schemas from the
data dictionary (the same words as the user guide), owners, personal-data tags, code versions
and the 09:00 America/Chicago freshness deadline."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest

from esg_assets import catalog
from esg_assets.definitions import defs

ASSETS = ("active_accounts", "esg_ratings", "ratings_csv", "daily_summary")
REPO = Path(__file__).resolve().parent.parent


def _node(name: str):  # type: ignore[no-untyped-def]
    return defs.resolve_asset_graph().get(dg.AssetKey(name))


@pytest.mark.parametrize("asset", ASSETS)
def test_owners_code_version_and_freshness(asset: str) -> None:
    node = _node(asset)
    assert node.owners == ["team:esg-data-engineering"]
    assert node.code_version == "contract-1.1"
    policy = node.freshness_policy
    assert isinstance(policy, dg.FreshnessPolicy)
    assert (policy.deadline_cron, policy.timezone) == ("0 9 * * *", "America/Chicago")
    assert policy.lower_bound_delta == timedelta(hours=4)  # the 05:00-09:00 window


def test_assets_holding_personal_data_are_tagged() -> None:
    tags = {a: _node(a).tags.get("personal_data") for a in ASSETS}
    assert tags == {"active_accounts": "account_names", "esg_ratings": "account_ids",
                    "ratings_csv": "account_names", "daily_summary": "account_ids"}


def _schema(asset: str, key: str = "dagster/column_schema") -> list[tuple[str, str, str | None]]:
    schema = _node(asset).metadata[key]
    return [(c.name, c.type, c.description) for c in schema.columns]


def test_column_schema_of_ratings_csv_is_the_parquet_columns_with_their_meaning() -> None:
    schema = _schema("ratings_csv")
    assert [(n, t) for n, t, _ in schema] == [
        ("account_id", "VARCHAR"), ("account_name", "VARCHAR"), ("overall_score", "DECIMAL(5,2)"),
        ("environmental_score", "DECIMAL(5,2)"), ("social_score", "DECIMAL(5,2)"), ("governance_score", "DECIMAL(5,2)"),
        ("primary_esg_focus", "VARCHAR"), ("primary_focus_score", "DECIMAL(5,2)"), ("analysis_date", "DATE"),
        ("processing_status", "VARCHAR")]
    assert all(d for _, _, d in schema)
    assert [n for n, _, _ in _schema("ratings_csv", "errors_column_schema")] == [
        "account_id", "attempts", "error_kind", "http_status", "error_message", "last_attempt_at"]


def test_column_schema_of_esg_ratings_describes_the_results_table() -> None:
    schema = dict((n, d) for n, _, d in _schema("esg_ratings"))
    assert list(schema)[:2] == ["account_id", "status"] and "source" in schema and "attempts" in schema
    assert "carried" in (schema["source"] or "") and all(schema.values())


def test_column_schema_of_active_accounts_is_the_day_s_list() -> None:
    assert [n for n, _, _ in _schema("active_accounts")] == ["account_id", "account_name", "updated_at"]


def test_the_user_guide_holds_the_data_dictionary_word_for_word() -> None:
    guide = (REPO / "docs" / "user-guide.md").read_text(encoding="utf-8")
    assert catalog.markdown_table(catalog.RATINGS_COLUMNS) in guide
    assert catalog.markdown_table(catalog.ERRORS_COLUMNS, numbered=False) in guide
    assert catalog.parquet_table() in guide


def test_the_instance_runs_the_freshness_daemon() -> None:
    import yaml

    config = yaml.safe_load((REPO / "dagster.yaml").read_text())
    assert config["freshness"] == {"enabled": True}
