"""The DuckDB state database and the file store as Dagster resources."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb
from dagster_aws.s3 import S3Resource

from esg_assets.settings import StorageSettings, load_storage
from esg_assets.state.db import connect
from esg_assets.storage.factory import open_store
from esg_assets.storage.store import Store


class StateResource(dg.ConfigurableResource):
    """The encrypted state database at ESG_STATE_DB (results per partition, runs, history)."""

    @contextmanager
    def connect(self, settings: StorageSettings | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        s = settings or load_storage()
        with connect(s.state_db, s.encryption_key_bytes, memory_limit=s.state_db_memory_limit) as con:
            yield con


class StoreResource(dg.ConfigurableResource):
    """The secure file store (local encrypted directory or S3 with SSE-KMS), audited.

    In S3 mode its client comes from the nested `s3` resource (dagster-aws `S3Resource`, shown
    in the UI beside this one): region, profile and retry settings live there, credentials in the
    standard AWS chain. Bucket, prefix and KMS key stay in ESG_S3_* (configuration.md).
    """

    s3: S3Resource | None = None

    def open(self, settings: StorageSettings | None = None) -> Store:
        return open_store(settings or load_storage(), s3=self.s3)
