"""The local secure store: private permissions, encryption at rest, atomic writes, audit trail."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from esg_assets.settings import StorageSettings
from esg_assets.storage import (
    StoreAccessRefused,
    StoreIntegrityError,
    StoreNotFoundError,
    StorePermissionError,
    logical_name,
    open_store,
)
from esg_assets.storage import audit
from esg_assets.storage.local import LocalStore

NAME = logical_name("2026-11-27", "ratings")
CSV = (
    b"Account ID,Account Name,Overall ESG Score\r\n"
    + b"".join(b"ACC-%07d,Acme Widgets %d,72.46\r\n" % (i, i) for i in range(50_000))
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _pieces(data: bytes, size: int = 10_000) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def test_round_trip_is_encrypted_and_private(settings: StorageSettings) -> None:
    store = open_store(settings)
    assert isinstance(store, LocalStore)
    stored = store.write(NAME, _pieces(CSV))
    enc = settings.output_dir / (NAME + ".enc")
    assert stored.location == str(enc) and stored.size == len(CSV)
    assert _mode(settings.output_dir) == 0o700 and _mode(enc) == 0o600
    raw = enc.read_bytes()
    assert b"Account ID" not in raw and b"Acme Widgets" not in raw
    assert b"".join(store.read(NAME)) == CSV
    assert store.exists(NAME) and not store.exists(logical_name("2026-11-28", "ratings"))
    [info] = store.list()
    assert (info.logical_name, info.size) == (NAME, len(CSV)) and info.modified.tzinfo is not None


def test_overwrite_replaces_content(settings: StorageSettings) -> None:
    store = open_store(settings)
    store.write(NAME, [b"old"])
    store.write(NAME, [b"new"])
    assert b"".join(store.read(NAME)) == b"new"


def test_empty_file(settings: StorageSettings) -> None:
    store = open_store(settings)
    stored = store.write(NAME, [])
    assert stored.size == 0 and b"".join(store.read(NAME)) == b""


def test_looser_existing_directory_is_refused(settings: StorageSettings) -> None:
    settings.output_dir.mkdir(mode=0o700)
    os.chmod(settings.output_dir, 0o755)
    with pytest.raises(StorePermissionError, match="0755"):
        open_store(settings)
    assert _mode(settings.output_dir) == 0o755  # refused, not silently "fixed"


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to hand a directory to another user")
def test_foreign_owned_directory_is_refused(settings: StorageSettings) -> None:
    settings.output_dir.mkdir(mode=0o700)
    os.chown(settings.output_dir, 4242, 4242)
    with pytest.raises(StorePermissionError, match="owned by uid 4242"):
        open_store(settings)


def test_missing_directory_is_created_private(settings: StorageSettings) -> None:
    nested = replace(settings, output_dir=settings.output_dir / "a" / "b")
    old = os.umask(0o022)
    try:
        open_store(nested)
    finally:
        os.umask(old)
    assert _mode(nested.output_dir) == 0o700


def test_failed_write_leaves_no_file_and_no_temp(settings: StorageSettings) -> None:
    store = open_store(settings)
    store.write(NAME, [b"previous content"])

    def broken() -> Iterator[bytes]:
        yield b"x" * 3_000_000
        raise RuntimeError("upstream died")

    with pytest.raises(RuntimeError):
        store.write(NAME, broken())
    other = logical_name("2026-11-28", "errors")
    with pytest.raises(RuntimeError):
        store.write(other, broken())
    assert sorted(os.listdir(settings.output_dir)) == [NAME + ".enc"]
    assert b"".join(store.read(NAME)) == b"previous content"
    failed = [r for r in audit.records(settings.audit_log) if r["outcome"] == "error"]
    assert [(r["action"], r["file"]) for r in failed] == [("write", NAME), ("write", other)]


def test_tampered_file_raises_and_is_audited(settings: StorageSettings) -> None:
    store = open_store(settings)
    store.write(NAME, _pieces(CSV))
    enc = settings.output_dir / (NAME + ".enc")
    raw = bytearray(enc.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    enc.write_bytes(bytes(raw))
    with pytest.raises(StoreIntegrityError):
        b"".join(store.read(NAME))
    last = list(audit.records(settings.audit_log))[-1]
    assert (last["action"], last["outcome"]) == ("read", "error")


def test_file_with_loose_mode_is_refused(settings: StorageSettings) -> None:
    store = open_store(settings)
    store.write(NAME, [b"data"])
    os.chmod(settings.output_dir / (NAME + ".enc"), 0o644)
    with pytest.raises(StorePermissionError):
        store.read(NAME)


def test_every_action_is_audited(settings: StorageSettings) -> None:
    store = open_store(settings, actor="job")
    stored = store.write(NAME, [CSV])
    b"".join(store.read(NAME))
    store.delete(NAME, "test cleanup")
    assert not store.exists(NAME) and store.list() == []
    got = [(r["actor"], r["action"], r["file"], r["sha256"], r["outcome"]) for r in audit.records(settings.audit_log)]
    assert got == [
        ("job", "write", NAME, stored.sha256, "ok"),
        ("job", "read", NAME, stored.sha256, "ok"),
        ("job", "delete", NAME, stored.sha256, "ok"),
    ]
    assert audit.verify(settings.audit_log).ok
    assert _mode(settings.audit_log) == 0o600


def test_unauthorized_reader_is_refused_and_audited(settings: StorageSettings) -> None:
    open_store(settings).write(NAME, [b"data"])
    with pytest.raises(StoreAccessRefused, match="mallory"):
        open_store(settings, actor="mallory").read(NAME)
    last = list(audit.records(settings.audit_log))[-1]
    assert (last["actor"], last["outcome"], last["file"]) == ("mallory", "refused", NAME)


def test_missing_file(settings: StorageSettings) -> None:
    store = open_store(settings)
    with pytest.raises(StoreNotFoundError):
        store.read(NAME)
    with pytest.raises(StoreNotFoundError):
        store.delete(NAME, "nothing there")


@pytest.mark.parametrize("bad", ["../etc/passwd", "/etc/passwd", "FirmESGRatings_20261327.csv", "x.csv", ""])
def test_unsafe_names_are_refused(settings: StorageSettings, bad: str) -> None:
    store = open_store(settings)
    with pytest.raises(ValueError):
        store.write(bad, [b"x"])
    with pytest.raises(ValueError):
        store.read(bad)


def test_stray_files_are_not_listed(settings: StorageSettings) -> None:
    store = open_store(settings)
    store.write(NAME, [b"x"])
    (settings.output_dir / "notes.txt.enc").write_bytes(b"")
    (settings.output_dir / f".{NAME}.abc.tmp").write_bytes(b"")
    assert [i.logical_name for i in store.list()] == [NAME]


def test_memory_stays_constant_in_file_size(settings: StorageSettings) -> None:
    """48 MiB through write and read with a small, flat Python heap (streams, never buffers)."""
    import tracemalloc

    store = open_store(settings)
    block = os.urandom(256 * 1024)
    tracemalloc.start()
    try:
        store.write(NAME, (block for _ in range(192)))
        total = sum(len(piece) for piece in store.read(NAME))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 192 * len(block)
    assert peak < 12 * 1024 * 1024, f"peak {peak} bytes"
