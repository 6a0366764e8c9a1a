"""`state/db.py` and `state/schema.py` through the project's opener on a file in the test's
temporary directory: encrypted at rest, private modes, a wrong key refused in one line that
never shows the key, read-only opens, spill directories cleaned up, and a database from a newer
version of the code refused without change."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import duckdb
import pytest

from esg_assets.state.accounts_repo import account_count, replace_accounts
from esg_assets.state.db import connect, masked, sql_string, temp_root
from esg_assets.state.schema import SCHEMA_VERSION
from esg_assets.storage.crypto import derive_key
from esg_assets_tests.state.statedb import D, accounts, state_db

SECRET_NAME = "Plaintext Holdings Ltd"


def test_the_file_is_encrypted_private_and_reopens_with_its_key(tmp_path: Path) -> None:
    key = secrets.token_bytes(32)
    with state_db(tmp_path, key) as con:
        replace_accounts(con, D, [accounts("A1", name=SECRET_NAME)])
    path = tmp_path / "state.duckdb"
    assert SECRET_NAME.encode() not in path.read_bytes()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    with state_db(tmp_path, key) as con:
        assert account_count(con, D) == 1
        assert con.execute("SELECT max(version) FROM schema_meta").fetchone()[0] == SCHEMA_VERSION


def test_a_wrong_key_is_one_line_without_the_key(tmp_path: Path) -> None:
    with state_db(tmp_path):
        pass
    wrong = secrets.token_bytes(32)
    with pytest.raises(RuntimeError) as err:
        with state_db(tmp_path, wrong):
            pass
    text = str(err.value)
    assert text.startswith(f"could not open the state database {tmp_path / 'state.duckdb'}") and "\n" not in text
    assert derive_key(wrong, "state-db").hex()[:8] not in text


def test_a_read_only_open_reads_but_never_writes(tmp_path: Path) -> None:
    key = secrets.token_bytes(32)
    with state_db(tmp_path, key) as con:
        replace_accounts(con, D, [accounts("A1")])
    with connect(tmp_path / "state.duckdb", key, read_only=True) as con:
        assert account_count(con, D) == 1
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute("DELETE FROM accounts")


def test_a_quote_in_the_path_is_no_sql(tmp_path: Path) -> None:
    odd = tmp_path / "it's here"
    with state_db(odd) as con:
        replace_accounts(con, D, [accounts("A1")])
    assert (odd / "state.duckdb").exists()
    assert sql_string("it's") == "'it''s'"


def test_the_spill_directory_goes_with_the_connection_and_a_dead_processs_is_removed(tmp_path: Path) -> None:
    root, key = temp_root(tmp_path / "state.duckdb"), secrets.token_bytes(32)
    with state_db(tmp_path, key):
        [mine] = list(root.iterdir())
        assert mine.name.startswith(f"{os.getpid()}-") and oct(root.stat().st_mode & 0o777) == "0o700"
    assert list(root.iterdir()) == []
    dead = root / "999999999-left"  # no such process
    dead.mkdir()
    (root / "not-a-pid").mkdir()  # not ours to judge
    with state_db(tmp_path, key):
        assert not dead.exists() and (root / "not-a-pid").exists()


def test_masked_cuts_every_run_of_the_key_out_of_an_error() -> None:
    key = "0123456789abcdef" * 4
    err = duckdb.Error(f"bad key {key[3:20]}\nand {key}")
    assert masked(err, key) == "bad key *** and ***"


def test_a_database_of_a_newer_schema_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    key = secrets.token_bytes(32)
    with state_db(tmp_path, key) as con:
        con.execute("UPDATE schema_meta SET version = ?", [SCHEMA_VERSION + 1])
    with pytest.raises(RuntimeError, match=f"schema version {SCHEMA_VERSION + 1}, newer than this code"):
        with state_db(tmp_path, key):
            pass
    with connect(tmp_path / "state.duckdb", key, read_only=True) as con:
        assert con.execute("SELECT version FROM schema_meta").fetchall() == [(SCHEMA_VERSION + 1,)]
