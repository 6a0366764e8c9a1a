"""Temp files a killed writer left behind are swept by the next write to the same directory:
the plain ones of `files get` in the output directory, and the encrypted ones of the local store;
a live writer's temp file is never touched, and one renamed away while the sweep looks at it is
no error (two `files get` into one directory at once). `files get` says when it replaced a file."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from esg_assets.settings import load_storage
from esg_assets.storage import logical_name, open_store
from esg_assets.storage.tempfiles import sweep_leftovers
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


# `files get`'s write (the sweep of the directory, then the atomic write) of another file into the
# same directory, again and again until told to stop.
_OTHER_FILES_GET = """import sys
from pathlib import Path
from esg_assets.cli.files import _write_atomically
stop, out = Path(sys.argv[1]), Path(sys.argv[2])
while not stop.exists():
    _write_atomically(out, "FirmESGErrors_20261127.csv", [b"Account ID\\r\\n" * 500])
"""


def test_a_sweep_beside_a_live_writer_neither_fails_nor_removes_its_file(tmp_path: Path) -> None:
    """Two `files get` into one directory at once: the other's temp file, listed by the sweep and
    renamed into place before the sweep looked at it, failed the sweep ("cannot write to DIR: No
    such file or directory"). Sweeps for 1 s beside a process writing there all along (before the
    fix the first failure came within milliseconds); that process must not fail either."""
    out, stop = tmp_path / "out", tmp_path / "stop"
    out.mkdir()
    other = subprocess.Popen([sys.executable, "-c", _OTHER_FILES_GET, str(stop), str(out)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (out / "FirmESGErrors_20261127.csv").exists():  # the other process is writing there
            assert other.poll() is None and time.monotonic() < deadline, other.stderr and other.stderr.read()
            time.sleep(0.01)
        end, sweeps = time.monotonic() + 1, 0
        while time.monotonic() < end:
            assert sweep_leftovers(out) == []
            sweeps += 1
    finally:
        stop.touch()
        _, other_err = other.communicate(timeout=60)
    assert other.returncode == 0, other_err
    assert sweeps > 100 and os.listdir(out) == ["FirmESGErrors_20261127.csv"]
