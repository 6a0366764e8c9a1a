"""An interrupted key rotation with no local file to probe (none stored yet, or S3 storage) still
refuses to finish with another new key than the one it started with: the state DB is probed."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from esg_assets.settings import load_storage
from esg_assets.state.db import connect
from esg_assets import key_rotation as rotation


def test_a_resumed_rotation_without_files_checks_the_new_key_on_the_state_db(
    storage_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_storage()
    with connect(settings.state_db, settings.encryption_key_bytes) as con:
        con.execute("CREATE TABLE kept (x INTEGER)")
    started_with = os.urandom(32)
    real_replace = os.replace

    def dying_replace(src, dst):  # type: ignore[no-untyped-def]
        if str(src).endswith(rotation.NEW_SUFFIX):
            raise KeyboardInterrupt  # the machine is lost before the state DB is swapped
        return real_replace(src, dst)

    monkeypatch.setattr(rotation.os, "replace", dying_replace)
    with pytest.raises(KeyboardInterrupt):
        rotation.rotate_keys(settings, started_with)
    monkeypatch.setattr(rotation.os, "replace", real_replace)
    with pytest.raises(rotation.RotationError, match="same new key"):
        rotation.rotate_keys(settings, os.urandom(32))
    report = rotation.rotate_keys(settings, started_with)
    assert report.resumed and report.state_db and report.files == []
    monkeypatch.setenv("ESG_FILE_ENCRYPTION_KEY", base64.b64encode(started_with).decode())
    with connect(settings.state_db, started_with, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM kept").fetchone() == (0,)
