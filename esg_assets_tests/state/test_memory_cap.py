"""`state/db.py::memory_cap`, the calls phase's lower DuckDB limit: `esg_ratings` commits its
results under the cap, the configured limit comes back afterwards (after an error too), and a
configured limit below the cap is never raised. What the cap saves in resident memory is a
benchmark figure (docs/benchmarks.md, "Peak RSS"), not a unit test's."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from esg_assets.state import ratings_repo
from esg_assets.state.db import APPEND_MEMORY_LIMIT, memory_cap, size_bytes
from esg_assets_tests.sandbox.harness import SandboxProcess
from esg_assets_tests.state.statedb import state_db
from esg_assets_tests.support.job import PARTITION, fast_job_env, run_day

CONFIGURED = "128MB"


def _limit(con: duckdb.DuckDBPyConnection) -> str:
    return str(con.execute("SELECT current_setting('memory_limit')").fetchone()[0])  # type: ignore[index]


def test_sizes_in_bytes() -> None:
    assert size_bytes("32MB") == 32_000_000 and size_bytes("1GB") == 10**9 and size_bytes("128mb") == 128_000_000


def test_the_configured_limit_comes_back_after_the_block_and_after_an_error(tmp_path: Path) -> None:
    with state_db(tmp_path) as con:
        configured = _limit(con)
        with memory_cap(con, CONFIGURED):
            assert size_bytes(APPEND_MEMORY_LIMIT) * 0.9 < _duckdb_limit_bytes(con) <= size_bytes(APPEND_MEMORY_LIMIT)
        assert _limit(con) == configured
        with pytest.raises(ZeroDivisionError):
            with memory_cap(con, CONFIGURED):
                1 / 0  # noqa: B018
        assert _limit(con) == configured


def test_a_configured_limit_below_the_cap_is_kept(tmp_path: Path) -> None:
    with state_db(tmp_path) as con:
        con.execute("SET memory_limit = '16MB'")
        before = _limit(con)
        with memory_cap(con, "16MB"):
            assert _limit(con) == before
        assert _limit(con) == before


def _duckdb_limit_bytes(con: duckdb.DuckDBPyConnection) -> int:
    """The limit in bytes: DuckDB prints it in MiB (`30.5 MiB`)."""
    number, unit = _limit(con).split()
    assert unit == "MiB"
    return int(float(number) * 2**20)


@pytest.mark.integration
def test_esg_ratings_commits_its_results_under_the_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    save = ratings_repo.save_results

    def recording(con: duckdb.DuckDBPyConnection, *args: object, **kwargs: object) -> None:
        seen.append(_duckdb_limit_bytes(con))
        save(con, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ratings_repo, "save_results", recording)
    with SandboxProcess(accounts=30, seed=5, today=PARTITION) as sb:
        for k, v in fast_job_env(tmp_path / "home", sb.env()).items():
            monkeypatch.setenv(k, v)
        with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
            result = run_day(instance=instance, assets=("active_accounts", "esg_ratings"))
    assert result.success
    assert seen and all(limit <= size_bytes(APPEND_MEMORY_LIMIT) for limit in seen)
