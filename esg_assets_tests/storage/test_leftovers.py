"""Temp files a killed writer left behind are swept by the next write to the same directory:
the plain ones of `files get` in the output directory, and the encrypted ones of the local store;
a live writer's temp file is never touched. `files get` says when it replaced a file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from esg_assets.settings import load_storage
from esg_assets.storage import logical_name, open_store
from esg_assets_tests.support.cli import run_cli

NAME = logical_name("2026-11-27", "ratings")


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _leftover(directory: Path, pid: int, content: bytes) -> Path:
    path = directory / f".{NAME}.{pid}.{'ab' * 8}.tmp"
    path.write_bytes(content)
    return path


def test_files_get_sweeps_plain_leftovers_of_dead_writers(storage_env: Path, tmp_path: Path,
                                                          capfd: pytest.CaptureFixture[str]) -> None:
    open_store(load_storage()).write(NAME, [b"Account ID\r\nACC-1\r\n"])
    out = tmp_path / "plain"
    out.mkdir()
    dead = _leftover(out, _dead_pid(), b"Account ID\r\nACC-1 half of a plain file")
    live = _leftover(out, os.getppid(), b"another writer, still running")
    code, stdout, err = run_cli(capfd, "files", "get", "2026-11-27", "--out", str(out))
    assert code == 0, err
    assert not dead.exists() and live.exists()
    assert (out / NAME).read_bytes() == b"Account ID\r\nACC-1\r\n"
    code, stdout, err = run_cli(capfd, "files", "get", "2026-11-27", "--out", str(out))
    assert code == 0 and "replaced" in stdout


def test_the_store_sweeps_encrypted_leftovers_of_dead_writers(storage_env: Path) -> None:
    settings = load_storage()
    store = open_store(settings)
    store.write(NAME, [b"first"])
    dead = _leftover(settings.output_dir, _dead_pid(), b"ESGENC1 half")
    store.write(logical_name("2026-11-28", "ratings"), [b"second"])
    assert not dead.exists()
    assert sorted(p.name for p in settings.output_dir.iterdir()) == sorted(
        [f"{NAME}.enc", f"{logical_name('2026-11-28', 'ratings')}.enc"])
