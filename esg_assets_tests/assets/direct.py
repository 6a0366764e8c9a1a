"""Calling an asset function directly, as Dagster's own testing guide does:
`asset(dg.build_asset_context(partition_key=..., resources=...))`, in this process, against the
sandbox server and a state database and store in the test's temporary directory. What the asset
returns (its metadata), the rows it writes and the files it stores are then read back directly;
no job, no run, no subprocess."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from esg_assets.resources.state import StateResource, StoreResource
from esg_assets.resources.clients import UpstreamResource
from esg_assets.settings import load_storage
from esg_assets.state.db import connect
from esg_assets.storage.names import logical_name
from esg_assets.storage.factory import open_store
from esg_assets_tests.sandbox.harness import SandboxProcess

DAY = "2026-11-27"


def direct_env(home: Path, sandbox: SandboxProcess, **extra: str) -> dict[str, str]:
    """The ESG_* variables of a direct call: the sandbox, a fresh key, fast retries, every path
    under `home` (the defaults derived from DAGSTER_HOME, as configuration.md says)."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "DAGSTER_HOME": str(home),
        "ESG_FILE_ENCRYPTION_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "ESG_API_BACKOFF_BASE_SECONDS": "0.01",
        "ESG_API_BACKOFF_MAX_SECONDS": "0.05",
        "ESG_API_TIMEOUT_SECONDS": "5",
        "ESG_CARRY_CHECK_SAMPLE": "0",
        **sandbox.env(),
        **extra,
    }


def use_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """Exactly `env` as this process's ESG_* variables (and DAGSTER_HOME)."""
    for name in list(os.environ):
        if name.startswith("ESG_") or name == "DAGSTER_HOME":
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def call(asset: dg.AssetsDefinition, partition: str = DAY, **config: Any) -> dg.MaterializeResult:
    """The asset function run once on `partition` with the job's own resources."""
    resources = {"upstream": UpstreamResource(), "state": StateResource(), "store": StoreResource()}
    wanted = {k: v for k, v in resources.items() if k in asset.required_resource_keys}
    with dg.build_asset_context(partition_key=partition, resources=wanted) as context:
        result = asset(context, **config)
    assert isinstance(result, dg.MaterializeResult)
    return result


def failure(asset: dg.AssetsDefinition, partition: str = DAY, **config: Any) -> dg.Failure:
    with pytest.raises(dg.Failure) as err:
        call(asset, partition, **config)
    return err.value


def values(result: dg.MaterializeResult) -> dict[str, Any]:
    """The result's metadata as plain values."""
    return {k: getattr(v, "value", v) for k, v in (result.metadata or {}).items()}


@contextmanager
def state() -> Iterator[duckdb.DuckDBPyConnection]:
    """The state database the assets wrote, opened read-only with the job's key."""
    s = load_storage()
    with connect(s.state_db, s.encryption_key_bytes, read_only=True) as con:
        yield con


def stored(kind: str, partition: str = DAY) -> bytes:
    """A stored file's plain content, through the store as `files get` reads it."""
    return b"".join(open_store(load_storage()).read(logical_name(partition, kind)))
