"""Encryption at rest after a real run: no plain text in the `.enc` files or the DuckDB state
file (and its WAL); the state DB does not open without its key, and a wrong key gives a clear
error without the key; a tampered `.enc` is refused by `files get` (non-zero, one line, nothing
written)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from esg_assets.state.db import connect
from esg_assets.storage.crypto import derive_key
from esg_assets_tests.support.job import PARTITION, fast_job_env, run_day
from esg_assets_tests.sandbox.harness import SandboxProcess
from esg_assets_tests.support.cli import run_cli

pytestmark = pytest.mark.integration

HEADER = b"Account ID,Account Name,Overall ESG Score"


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory):
    """One run of the day (module-wide): its home, environment and the sandbox's accounts."""
    mp = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("enc") / "home"
    with SandboxProcess(accounts=20, seed=9, today=PARTITION) as sb:
        env = fast_job_env(home, sb.env())
        for name in [n for n in os.environ if n.startswith("ESG_")]:
            mp.delenv(name)
        for k, v in env.items():
            mp.setenv(k, v)
        with dg.instance_for_test(temp_dir=str(home)) as instance:
            assert run_day(instance=instance).success
        accounts = sb.accounts()
    yield {"home": home, "env": env, "accounts": accounts}
    mp.undo()


def _needles(accounts: list[dict]) -> list[bytes]:
    # Account names, as UTF-8 (the CSV) and as they would sit in a DuckDB string column.
    names = [a["account_name"].encode() for a in accounts if len(a["account_name"]) >= 6]
    return [HEADER, b"Processing Status", b"FirmESG", *names]


def test_no_plain_text_in_encrypted_files_or_the_state_db(finished_run) -> None:
    home: Path = finished_run["home"]
    enc = sorted((home / "output").glob("*.enc"))
    assert {p.name for p in enc} >= {"FirmESGRatings_20261120.csv.enc", "FirmESGErrors_20261120.csv.enc"}
    state = [home / "esg_state.duckdb", *[p for p in [home / "esg_state.duckdb.wal"] if p.exists()]]
    needles = _needles(finished_run["accounts"])
    assert len(needles) > 10
    for path in [*enc, *state]:
        blob = path.read_bytes()
        leaked = [n for n in needles if n in blob]
        assert leaked == [], f"{path.name} holds plain text: {leaked[:3]}"
    assert all(p.read_bytes().startswith(b"ESGENC1\x02") for p in enc)  # format version 2: name-bound


def test_state_db_does_not_open_without_the_key(finished_run) -> None:
    path = finished_run["home"] / "esg_state.duckdb"
    with pytest.raises(duckdb.Error):
        duckdb.connect(str(path), read_only=True).execute("SELECT * FROM accounts").fetchall()
    master = base64.b64decode(finished_run["env"]["ESG_FILE_ENCRYPTION_KEY"])
    wrong = os.urandom(32)
    with pytest.raises(RuntimeError) as caught:
        with connect(path, wrong, read_only=True, lock_wait_seconds=1):
            pass
    message = str(caught.value)
    assert "could not open the state database" in message and "encryption key" in message.lower()
    for key in (wrong, derive_key(wrong, "state-db"), master, derive_key(master, "state-db")):
        assert key.hex() not in message and base64.b64encode(key).decode() not in message
    assert "\n" not in message
    with connect(path, master, read_only=True, lock_wait_seconds=5) as con:  # the right key works
        assert con.execute("SELECT count(*) FROM accounts").fetchone()[0] == 20


def test_tampered_file_is_refused_by_files_get(finished_run, tmp_path: Path, capfd) -> None:
    target = finished_run["home"] / "output" / "FirmESGErrors_20261120.csv.enc"
    original = target.read_bytes()
    tampered = bytearray(original)
    tampered[len(tampered) // 2] ^= 0x01
    target.write_bytes(bytes(tampered))
    out_dir = tmp_path / "plain"
    try:
        code, out, err = run_cli(capfd, "files", "get", PARTITION, "--kind", "errors", "--out", str(out_dir))
    finally:
        target.write_bytes(original)
    assert code != 0
    assert out == "" and len(err.strip().splitlines()) == 1 and "failed authentication" in err
    assert not out_dir.exists() or list(out_dir.iterdir()) == []
    code, out, _ = run_cli(capfd, "files", "get", PARTITION, "--kind", "errors", "--out", str(out_dir))
    assert code == 0 and (out_dir / "FirmESGErrors_20261120.csv").read_bytes().startswith(b"Account ID,")
