"""The state database's key never reaches SQL text, so no DuckDB error can echo it: a path with a
single quote (in the middle or at the end of ESG_STATE_DB) opens like any other, and no run of
8 or more of the key's hex characters appears in any file, event or captured output."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._serdes import serialize_value

from esg_assets.state.db import connect
from esg_assets.storage.crypto import derive_key
from esg_assets.key_rotation import _copy_state_db
from esg_assets_tests.support.job import PARTITION, fast_job_env, run_day
from esg_assets_tests.sandbox.harness import SandboxProcess
from esg_assets_tests.security.test_secrets_scan import files_under


def hex_runs(master: bytes, length: int = 8) -> set[bytes]:
    """Every run of `length` hex characters of the master and state-DB keys."""
    runs: set[bytes] = set()
    for text in (master.hex(), derive_key(master, "state-db").hex()):
        runs.update(text[i:i + length].encode() for i in range(len(text) - length + 1))
    return runs


def leaks(blobs: dict[str, bytes], runs: set[bytes]) -> list[str]:
    return sorted({where for where, blob in blobs.items() for run in runs if run in blob.lower()})


@pytest.mark.parametrize("name", ["state'db.duckdb", "state.duckdb'"])
def test_a_quote_in_the_path_opens_and_errors_carry_no_statement(tmp_path: Path, name: str) -> None:
    master = secrets.token_bytes(32)
    path = tmp_path / name
    with connect(path, master) as con:
        con.execute("CREATE TABLE t (x INTEGER)")
        con.execute("INSERT INTO t VALUES (1)")
    with connect(path, master, read_only=True) as con:
        assert con.execute("SELECT x FROM t").fetchall() == [(1,)]
    # A wrong key is refused with one line that names neither key.
    with pytest.raises(RuntimeError) as caught:
        with connect(path, secrets.token_bytes(32)):
            pass
    text = str(caught.value)
    assert "\n" not in text and leaks({"error": text.encode()}, hex_runs(master)) == []


def test_the_key_is_not_in_the_attach_statement(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Even the statement text DuckDB is given holds no key material (a parse error echoes it)."""
    master = secrets.token_bytes(32)
    seen: list[str] = []
    real_connect = duckdb.connect

    class Recording:
        def __init__(self, con: duckdb.DuckDBPyConnection):
            self._con = con

        def execute(self, sql: str, *args: object) -> object:
            seen.append(sql)
            return self._con.execute(sql, *args)

        def __getattr__(self, name: str) -> object:
            return getattr(self._con, name)

    monkeypatch.setattr(duckdb, "connect", lambda *a, **k: Recording(real_connect(*a, **k)))
    with connect(tmp_path / "s'.duckdb", master) as con:
        con.execute("SELECT 1")
    new_master = secrets.token_bytes(32)
    _copy_state_db(tmp_path / "s'.duckdb", tmp_path / "new'.duckdb", master, new_master)  # key rotation
    assert sum(s.startswith("ATTACH") for s in seen) == 3
    assert leaks({"sql": "\n".join(seen).encode()}, hex_runs(master) | hex_runs(new_master)) == []


@pytest.mark.integration
def test_a_run_with_a_quote_in_the_state_db_path_leaks_no_key(
    tmp_path: Path, apply_env, capfd: pytest.CaptureFixture[str]
) -> None:
    """One run whose state DB name has a quote in the middle and one at the end (once two runs,
    one per place; the opener's handling of each alone: test_a_quote_in_the_path_opens...)."""
    name = "esg'state.duckdb'"
    home = tmp_path / "home"
    with SandboxProcess(accounts=6, seed=3, today=PARTITION) as sb:
        env = fast_job_env(home, sb.env(), ESG_STATE_DB=str(home / name))
        apply_env(env)
        with dg.instance_for_test(temp_dir=str(home)) as instance:
            result = run_day(instance=instance)
            events = [serialize_value(e) for e in instance.all_logs(result.run_id)]
    out, err = capfd.readouterr()
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    assert (home / name).is_file()
    blobs = {**files_under(home), "stdout": out.encode(), "stderr": err.encode(),
             "events": "\n".join(events).encode()}
    assert leaks(blobs, hex_runs(base64.b64decode(env["ESG_FILE_ENCRYPTION_KEY"]))) == []
