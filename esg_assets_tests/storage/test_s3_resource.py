"""The S3 store's client comes from dagster-aws's `S3Resource`, a resource of the definitions
(listed in the UI, used by `store`), against a real moto server."""

from __future__ import annotations

import dagster as dg
import pytest
from dagster_aws.s3 import S3Resource

from esg_assets.definitions import defs
from esg_assets.resources.state import StoreResource
from esg_assets.settings import load_storage
from esg_assets.storage import logical_name
from esg_assets.storage.s3 import S3Store

from esg_assets_tests.support.s3 import S3Env

pytestmark = pytest.mark.integration
SUMMARY = logical_name("2026-11-27", "summary")


def test_definitions_hold_the_s3_resource_the_store_uses() -> None:
    assert isinstance(defs.resources["s3"], S3Resource)
    store = defs.resources["store"]
    assert isinstance(store, StoreResource) and store.s3 is defs.resources["s3"]


def test_store_client_is_built_by_the_s3_resource(s3_env: S3Env) -> None:
    """Region and retries come from the resource; ESG_S3_ENDPOINT_URL still points it at moto."""
    store = StoreResource(s3=S3Resource(region_name="eu-west-2", max_attempts=7)).open(load_storage())
    assert isinstance(store, S3Store)
    assert store.client.meta.region_name == "eu-west-2"
    assert store.client.meta.config.retries["total_max_attempts"] == 8
    assert store.client.meta.endpoint_url == s3_env.endpoint
    store.write(SUMMARY, [b"{}"])
    assert b"".join(store.read(SUMMARY)) == b"{}"


def test_a_run_writes_through_the_definitions_store_and_s3_resource(s3_env: S3Env) -> None:
    @dg.asset
    def stored(store: StoreResource) -> str:
        return store.open().write(SUMMARY, [b'{"partition": "2026-11-27"}']).location

    with dg.instance_for_test() as instance:
        result = dg.materialize([stored], resources={"store": defs.resources["store"]}, instance=instance)
    assert result.success
    assert result.output_for_node("stored") == f"s3://{s3_env.bucket}/esg-ratings/{SUMMARY}"
    head = s3_env.client().head_object(Bucket=s3_env.bucket, Key=f"esg-ratings/{SUMMARY}")
    assert head["ServerSideEncryption"] == "aws:kms"
