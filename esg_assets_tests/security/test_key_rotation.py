"""`esg-ratings keys rotate`: after a day's run, every stored file and the state DB are
re-encrypted under the new key (audited, no key printed); `files get` and the next day's change
detection work with the new key and fail with the old one. Crash safety: a failure while
preparing changes nothing; an interrupted swap is finished by running the command again."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import dagster as dg
import pytest

from esg_assets.settings import load_storage
from esg_assets.state.db import connect
from esg_assets.storage import audit, logical_name, open_store
from esg_assets import key_rotation as rotation
from esg_assets.storage.errors import StoreIntegrityError
from esg_assets_tests.support.job import PARTITION, fast_job_env, read_output, run_day
from esg_assets_tests.sandbox.harness import SandboxProcess
from esg_assets_tests.support.cli import run_cli

NEXT_DAY = "2026-11-21"


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def assert_no_key(text: str, *keys: str) -> None:
    for key in keys:
        raw = base64.b64decode(key)
        assert key not in text and raw.hex() not in text


@pytest.mark.integration
def test_rotate_after_a_run_then_read_and_run_the_next_day(tmp_path: Path, apply_env, monkeypatch, capfd) -> None:
    home = tmp_path / "home"
    with SandboxProcess(accounts=20, seed=6, today=PARTITION) as sb:
        env = fast_job_env(home, sb.env())
        apply_env(env)
        with dg.instance_for_test(temp_dir=str(home)) as instance:
            assert run_day(instance=instance).success
        before = read_output(PARTITION, "ratings")
        old, new = env["ESG_FILE_ENCRYPTION_KEY"], new_key()
        key_file = tmp_path / "new.key"
        key_file.write_text(new + "\n")
        stored = len(list((home / "output").glob("*.enc")))
        assert stored >= 3
        code, out, err = run_cli(capfd, "keys", "rotate", "--new-key-file", str(key_file))
        assert code == 0, err
        assert f"re-encrypted {stored} stored file(s) and the state database" in out
        assert_no_key(out + err, old, new)
        assert not list((home / "output").glob(".*rotate-new")) and not (home / "esg_state.duckdb.rotate-new").exists()
        records = [r for r in audit.records(load_storage().audit_log) if r["action"] == "rotate-key"]
        assert len(records) == stored + 1 and all(r["outcome"] == "ok" for r in records)
        assert run_cli(capfd, "audit", "verify")[0] == 0

        # The old key no longer opens anything.
        out_dir = tmp_path / "plain"
        code, _out, err = run_cli(capfd, "files", "get", PARTITION, "--out", str(out_dir))
        assert code != 0 and "failed authentication" in err and not (out_dir / "FirmESGRatings_20261120.csv").exists()
        with pytest.raises(RuntimeError, match="could not open the state database"):
            with connect(home / "esg_state.duckdb", base64.b64decode(old), read_only=True, lock_wait_seconds=1):
                pass

        # The new key reads the files and carries the unchanged accounts into the next day.
        monkeypatch.setenv("ESG_FILE_ENCRYPTION_KEY", new)
        code, _out, err = run_cli(capfd, "files", "get", PARTITION, "--out", str(out_dir))
        assert code == 0, err
        assert (out_dir / "FirmESGRatings_20261120.csv").read_bytes() == before
        sb.advance(days=1, esg_changed=["ACC-0000003"])
        with dg.instance_for_test(temp_dir=str(home)) as instance:
            assert run_day(NEXT_DAY, instance=instance).success
        summary = json.loads(read_output(NEXT_DAY, "summary"))
        assert summary["carried_forward"] == 19 and summary["accounts_called"] == 1


@pytest.fixture
def stored(storage_env: Path) -> dict[str, bytes]:
    """Two stored files and a state DB with a row, under the current key."""
    settings = load_storage()
    store = open_store(settings)
    contents = {logical_name(PARTITION, k): f"{k} content\r\n".encode() for k in ("ratings", "errors")}
    for name, content in contents.items():
        store.write(name, [content])
    with connect(settings.state_db, settings.encryption_key_bytes) as con:
        con.execute("INSERT INTO ratings_partitions (partition, last_run_id) VALUES ('2026-11-20', 'r1')")
    return contents


def _read_all(key: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    monkeypatch.setenv("ESG_FILE_ENCRYPTION_KEY", key)
    settings = load_storage()
    store = open_store(settings)
    with connect(settings.state_db, settings.encryption_key_bytes, read_only=True, lock_wait_seconds=1) as con:
        assert con.execute("SELECT count(*) FROM ratings_partitions").fetchone()[0] == 1
    return {f.logical_name: b"".join(store.read(f.logical_name)) for f in store.list()}


def test_a_file_failing_authentication_aborts_before_any_change(stored, monkeypatch) -> None:
    settings = load_storage()
    old = settings.encryption_key.value
    victim = settings.output_dir / "FirmESGRatings_20261120.csv.enc"
    victim.write_bytes(victim.read_bytes()[:-1] + b"\x00")
    with pytest.raises(rotation.RotationError, match="FirmESGRatings_20261120.csv: .*nothing was changed"):
        rotation.rotate_keys(settings, base64.b64decode(new_key()))
    assert sorted(p.name for p in settings.output_dir.iterdir()) == sorted(f"{n}.enc" for n in stored)
    assert not Path(f"{settings.state_db}{rotation.NEW_SUFFIX}").exists()
    with pytest.raises(StoreIntegrityError):  # still the tampered file, under the old key
        _read_all(old, monkeypatch)
    assert audit.verify(settings.audit_log).ok


def test_an_interrupted_swap_is_finished_by_running_again(stored, monkeypatch) -> None:
    settings = load_storage()
    new = new_key()
    real_replace = os.replace
    calls = {"n": 0}

    def dying_replace(src, dst):  # type: ignore[no-untyped-def]
        if str(src).endswith(rotation.NEW_SUFFIX):
            calls["n"] += 1
            if calls["n"] == 2:  # one file swapped, then the machine is lost
                raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(rotation.os, "replace", dying_replace)
    with pytest.raises(KeyboardInterrupt):
        rotation.rotate_keys(settings, base64.b64decode(new))
    monkeypatch.setattr(rotation.os, "replace", real_replace)
    assert (settings.output_dir / rotation.JOURNAL).exists()
    with pytest.raises(rotation.RotationError, match="same new key"):
        rotation.rotate_keys(settings, base64.b64decode(new_key()))
    report = rotation.rotate_keys(load_storage(), base64.b64decode(new))
    assert report.resumed and report.state_db and sorted(report.files) == sorted(stored)
    assert not (settings.output_dir / rotation.JOURNAL).exists()
    assert _read_all(new, monkeypatch) == stored
    assert audit.verify(settings.audit_log).ok


def test_rotating_to_the_same_key_or_a_malformed_key_is_refused(stored, capfd, monkeypatch) -> None:
    current = load_storage().encryption_key.value
    monkeypatch.setenv(rotation.NEW_KEY_ENV, current)
    code, out, err = run_cli(capfd, "keys", "rotate")
    assert code != 0 and "the new key is the current key" in err
    monkeypatch.setenv(rotation.NEW_KEY_ENV, "bm90IDMyIGJ5dGVz")
    code, out, err = run_cli(capfd, "keys", "rotate")
    assert code != 0 and "ESG_NEW_FILE_ENCRYPTION_KEY must be base64 of 32 random bytes" in err
    assert_no_key(out + err, current)
    monkeypatch.delenv(rotation.NEW_KEY_ENV)
    code, _out, err = run_cli(capfd, "keys", "rotate")
    assert code != 0 and "--new-key-file" in err


@pytest.mark.integration
def test_with_s3_storage_only_the_state_db_is_rotated(s3_env, capfd, monkeypatch) -> None:
    settings = load_storage()
    open_store(settings).write(logical_name(PARTITION, "ratings"), [b"kms encrypted\r\n"])
    with connect(settings.state_db, settings.encryption_key_bytes) as con:
        con.execute("INSERT INTO ratings_partitions (partition, last_run_id) VALUES ('2026-11-20', 'r1')")
    new = new_key()
    monkeypatch.setenv(rotation.NEW_KEY_ENV, new)
    code, out, err = run_cli(capfd, "keys", "rotate")
    assert code == 0, err
    assert "re-encrypted 0 stored file(s) and the state database" in out and "AWS KMS" in out
    monkeypatch.setenv("ESG_FILE_ENCRYPTION_KEY", new)
    assert _read_all(new, monkeypatch) == {"FirmESGRatings_20261120.csv": b"kms encrypted\r\n"}
    assert not (settings.state_db.parent / rotation.JOURNAL).exists()
