"""`tempfiles.atomic_write`, the one atomic file write (store files, `files get`, the audit head,
the rotation journal, the metrics textfile): all or nothing, its mode whatever the umask, no
temp file left on an error, never through a planted symlink."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from esg_assets.storage.tempfiles import atomic_write


def test_replaces_the_file_whole_with_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_bytes(b"old")
    old_umask = os.umask(0o077)
    try:
        atomic_write(target, [b"new ", b"content"], mode=0o644, sync_dir=True)
    finally:
        os.umask(old_umask)
    assert target.read_bytes() == b"new content"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    atomic_write(target, [b"private"])
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_a_failure_while_writing_keeps_the_old_file_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_bytes(b"old")

    def chunks() -> Iterator[bytes]:
        yield b"half"
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        atomic_write(target, chunks())
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_the_temp_file_is_never_written_through_a_symlink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    planted = tmp_path / "elsewhere"
    link = tmp_path / ".a.txt.planted.tmp"
    link.symlink_to(planted)
    monkeypatch.setattr("esg_assets.storage.tempfiles.temp_path", lambda directory, name: link)
    with pytest.raises(FileExistsError):
        atomic_write(tmp_path / "a.txt", [b"x"])
    assert not planted.exists() and not (tmp_path / "a.txt").exists()
