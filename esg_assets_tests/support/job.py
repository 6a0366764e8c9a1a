"""The daily job as the tests run it: the repository's paths and the default partition, a job
environment (DAGSTER_HOME, key, fast retries), a clean base environment for subprocesses, the
job in process against a real Dagster instance, and an output file read back through the store."""

from __future__ import annotations

import base64
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

import dagster as dg

REPO = Path(__file__).resolve().parents[2]
PARTITION = "2026-11-20"
ALL_ASSETS = "active_accounts,esg_ratings,ratings_csv,daily_summary"


def fast_job_env(home: Path, upstream: dict[str, str], **extra: str) -> dict[str, str]:
    """The ESG_* variables of a test run: upstream, a fresh key, small backoff and timeout."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {
        "DAGSTER_HOME": str(home),
        "ESG_FILE_ENCRYPTION_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "ESG_API_BACKOFF_BASE_SECONDS": "0.05",
        "ESG_API_BACKOFF_MAX_SECONDS": "0.2",
        "ESG_API_TIMEOUT_SECONDS": "1",
        "ESG_API_RATE_LIMIT_PER_SECOND": "500",
        # Tests that count calls see change detection alone; the carry-forward check's tests
        # (pipeline/test_carry_check.py) run with the contract's default sample.
        "ESG_CARRY_CHECK_SAMPLE": "0",
        **upstream,
    }
    env.update(extra)
    return env


def clean_environ(**extra: str) -> dict[str, str]:
    """This process's environment without any ESG_* or DAGSTER_HOME (which other tests may
    have set), plus `extra`: the base of every subprocess a test starts."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("ESG_") and k != "DAGSTER_HOME"}
    return {**base, **extra}


def run_day(
    partition: str = PARTITION,
    instance: dg.DagsterInstance | None = None,
    run_config: dict[str, Any] | None = None,
    assets: tuple[str, ...] = ("active_accounts", "esg_ratings", "ratings_csv", "daily_summary"),
) -> dg.ExecuteInProcessResult:
    """Materialize the partition in process through the real definitions (and their check)."""
    from esg_assets.definitions import defs

    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={dg.AssetKey(a) for a in assets}
    )
    return job.execute_in_process(
        partition_key=partition,
        instance=instance or dg.DagsterInstance.get(),
        run_config=run_config or {},
        raise_on_error=False,
    )


def read_output(partition: str, kind: str) -> bytes:
    """The plain content of an output file through the store (as `files get` reads it)."""
    from esg_assets.settings import load_storage
    from esg_assets.storage.names import logical_name
    from esg_assets.storage.factory import open_store

    return b"".join(open_store(load_storage()).read(logical_name(partition, kind)))
