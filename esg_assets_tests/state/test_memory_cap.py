"""`state/db.py::memory_cap`, the lower DuckDB limit for a block: `active_accounts` stages and sorts its
pages under it, the configured limit comes back afterwards (after an error too), and a
configured limit below the cap is never raised. What the cap saves in resident memory is a
benchmark figure (docs/benchmarks.md, "Peak RSS"), not a unit test's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
import secrets
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from esg_assets.state import accounts_repo
from esg_assets.state.db import STAGING_MEMORY_LIMIT, connect, memory_cap, size_bytes
from esg_assets_tests.sandbox.harness import SandboxProcess
from esg_assets_tests.state.statedb import state_db
from esg_assets_tests.support.job import PARTITION, fast_job_env, run_day

def _limit(con: duckdb.DuckDBPyConnection) -> str:
    return str(con.execute("SELECT current_setting('memory_limit')").fetchone()[0])  # type: ignore[index]


def test_sizes_in_bytes() -> None:
    assert size_bytes("32MB") == 32_000_000 and size_bytes("1GB") == 10**9 and size_bytes("128mb") == 128_000_000


def test_the_configured_limit_comes_back_after_the_block_and_after_an_error(tmp_path: Path) -> None:
    with state_db(tmp_path) as con:
        configured = _limit(con)
        with memory_cap(con, STAGING_MEMORY_LIMIT):
            assert size_bytes(STAGING_MEMORY_LIMIT) * 0.9 < _duckdb_limit_bytes(con) <= size_bytes(STAGING_MEMORY_LIMIT)
        assert _limit(con) == configured
        with pytest.raises(ZeroDivisionError):
            with memory_cap(con, STAGING_MEMORY_LIMIT):
                1 / 0  # noqa: B018
        assert _limit(con) == configured


def test_a_configured_limit_below_the_cap_is_kept(tmp_path: Path) -> None:
    with connect(tmp_path / "state.duckdb", secrets.token_bytes(32), memory_limit="16MB") as con:
        before = _limit(con)
        with memory_cap(con, STAGING_MEMORY_LIMIT):
            assert _limit(con) == before
        assert _limit(con) == before


def test_a_connection_connect_did_not_open_is_left_as_it_is() -> None:
    con = duckdb.connect(":memory:")
    before = _limit(con)
    with memory_cap(con, STAGING_MEMORY_LIMIT):
        assert _limit(con) == before


def _duckdb_limit_bytes(con: duckdb.DuckDBPyConnection) -> int:
    """The limit in bytes: DuckDB prints it in MiB (`30.5 MiB`)."""
    number, unit = _limit(con).split()
    assert unit == "MiB"
    return int(float(number) * 2**20)


@pytest.mark.integration
def test_the_steps_append_under_the_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, list[int]] = {"pages": []}

    def recording(what: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(con: duckdb.DuckDBPyConnection, *args: Any, **kwargs: Any) -> Any:
            seen[what].append(_duckdb_limit_bytes(con))
            return real(con, *args, **kwargs)
        return call

    monkeypatch.setattr(accounts_repo, "_replace_accounts", recording("pages", accounts_repo._replace_accounts))
    with SandboxProcess(accounts=30, seed=5, today=PARTITION) as sb:
        for k, v in fast_job_env(tmp_path / "home", sb.env()).items():
            monkeypatch.setenv(k, v)
        with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
            result = run_day(instance=instance, assets=("active_accounts",))
    assert result.success
    caps = {"pages": STAGING_MEMORY_LIMIT}
    for what, limits in seen.items():
        assert limits and all(limit <= size_bytes(caps[what]) for limit in limits), what
