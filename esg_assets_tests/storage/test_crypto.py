"""Chunked AES-256-GCM: round trips of any size, and every kind of tampering refused."""

from __future__ import annotations

import io
import os

import pytest

from esg_assets.storage.crypto import (
    CHUNK_SIZE,
    HEADER_SIZE,
    SEALED_CHUNK_SIZE,
    decrypt_stream,
    derive_key,
    encrypt_stream,
    plaintext_size,
)
from esg_assets.storage.errors import StoreIntegrityError

KEY = derive_key(b"k" * 32, "files")


def _encrypt(plain: bytes, piece: int = 65536) -> bytes:
    pieces = [plain[i : i + piece] for i in range(0, len(plain), piece)]
    return b"".join(encrypt_stream(KEY, pieces))


def _decrypt(sealed: bytes, key: bytes = KEY) -> bytes:
    return b"".join(decrypt_stream(key, io.BytesIO(sealed)))


@pytest.mark.parametrize(
    "size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE, 3 * CHUNK_SIZE + 17]
)
def test_round_trip_any_size(size: int) -> None:
    plain = os.urandom(size)
    sealed = _encrypt(plain)
    assert _decrypt(sealed) == plain
    assert plaintext_size(len(sealed)) == size
    # The same stream given as an iterable of odd-sized pieces decrypts the same.
    odd = [sealed[i : i + 7777] for i in range(0, len(sealed), 7777)]
    assert b"".join(decrypt_stream(KEY, odd)) == plain


def test_each_file_gets_a_fresh_nonce_prefix() -> None:
    assert _encrypt(b"same")[:HEADER_SIZE] != _encrypt(b"same")[:HEADER_SIZE]


def test_no_plaintext_in_ciphertext() -> None:
    plain = b"Account ID,Account Name,Overall ESG Score\r\nACC-0000001,Acme Widgets Holdings,72.46\r\n" * 100
    sealed = _encrypt(plain)
    assert b"Account ID" not in sealed and b"Acme Widgets" not in sealed


def test_derived_keys_are_distinct_and_stable() -> None:
    master = os.urandom(32)
    files, state = derive_key(master, "files"), derive_key(master, "state-db")
    assert len(files) == len(state) == 32 and files != state and files != master
    assert derive_key(master, "files") == files
    with pytest.raises(ValueError):
        derive_key(master, "other")
    with pytest.raises(ValueError):
        derive_key(b"short", "files")


MULTI = os.urandom(2 * CHUNK_SIZE + 100)  # three chunks


def _flip(sealed: bytes, at: int) -> bytes:
    return sealed[:at] + bytes([sealed[at] ^ 0x01]) + sealed[at + 1 :]


def _chunk(sealed: bytes, i: int) -> bytes:
    start = HEADER_SIZE + i * SEALED_CHUNK_SIZE
    return sealed[start : start + SEALED_CHUNK_SIZE]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda s: _flip(s, HEADER_SIZE + 10), id="flip-first-chunk"),
        pytest.param(lambda s: _flip(s, len(s) - 1), id="flip-last-tag"),
        pytest.param(lambda s: _flip(s, 9), id="flip-nonce-prefix"),
        pytest.param(lambda s: _flip(s, 0), id="flip-magic"),
        pytest.param(lambda s: s[: HEADER_SIZE + 2 * SEALED_CHUNK_SIZE], id="truncate-at-chunk-boundary"),
        pytest.param(lambda s: s[:-5], id="truncate-inside-chunk"),
        pytest.param(lambda s: s[:HEADER_SIZE], id="header-only"),
        pytest.param(lambda s: s[:HEADER_SIZE] + _chunk(s, 1) + _chunk(s, 0) + s[HEADER_SIZE + 2 * SEALED_CHUNK_SIZE :], id="swap-chunks"),
        pytest.param(lambda s: s + _chunk(s, 0), id="append-chunk"),
        pytest.param(lambda s: s[:HEADER_SIZE] + s[HEADER_SIZE + SEALED_CHUNK_SIZE :], id="drop-first-chunk"),
        pytest.param(lambda s: b"", id="empty"),
    ],
)
def test_tampering_is_detected(tamper) -> None:  # type: ignore[no-untyped-def]
    sealed = _encrypt(MULTI)
    with pytest.raises(StoreIntegrityError):
        _decrypt(tamper(sealed))


def test_chunk_from_another_file_is_refused() -> None:
    one, other = _encrypt(MULTI), _encrypt(MULTI)
    spliced = one[: HEADER_SIZE + SEALED_CHUNK_SIZE] + _chunk(other, 1) + one[HEADER_SIZE + 2 * SEALED_CHUNK_SIZE :]
    with pytest.raises(StoreIntegrityError):
        _decrypt(spliced)


def test_wrong_key_is_refused() -> None:
    sealed = _encrypt(b"secret ratings")
    with pytest.raises(StoreIntegrityError, match="authentication"):
        _decrypt(sealed, derive_key(b"x" * 32, "files"))
    with pytest.raises(StoreIntegrityError):
        _decrypt(sealed, derive_key(b"k" * 32, "state-db"))


def test_streaming_stays_chunked() -> None:
    """Output comes out chunk by chunk: no piece is larger than one sealed chunk."""
    pieces = list(encrypt_stream(KEY, (b"x" * 4096 for _ in range(1024))))  # 4 MiB in 4 KiB bits
    assert max(len(p) for p in pieces) <= SEALED_CHUNK_SIZE
    plain_pieces = list(decrypt_stream(KEY, iter(pieces)))
    assert max(len(p) for p in plain_pieces) <= CHUNK_SIZE
    assert sum(len(p) for p in plain_pieces) == 4 * 1024 * 1024
