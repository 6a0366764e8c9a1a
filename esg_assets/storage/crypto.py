"""Chunked AES-256-GCM ("STREAM" construction) for files of any size in constant memory.

File format (all integers big-endian):

    header  = b"ESGENC1" || version (1 byte, = 2) || nonce prefix (8 random bytes)   16 bytes
    chunk i = AES-256-GCM(key, nonce = prefix || i (4 bytes),
                          aad   = header || len(context) (2 bytes) || context
                                  || i (4 bytes) || final flag (1 byte),
                          plain = up to 1 MiB) = ciphertext || 16-byte tag

`context` is the file's logical name (which holds its partition's date): a file copied over
another's name fails authentication on every read, so a swapped `.enc` is refused, not served
under the wrong name. Version 1 files (written before the context existed: aad without the
length and context) stay readable; they carry no binding.

Every chunk but the last holds exactly 1 MiB of plain text; the last one (possibly empty, so even
empty content has one authenticated chunk) is sealed with final flag 1. Binding the counter and
the final flag to each chunk is what detects reordering, swapped chunks, truncation at a chunk
boundary and appended data, not only flipped bytes. A random prefix per file means a nonce is
never reused under the same key (2^-64 collision risk per pair of files).

Keys: the 32-byte master key (`ESG_FILE_ENCRYPTION_KEY`) is never used directly; HKDF-SHA256 with a
distinct label per purpose derives independent keys for the files and for the DuckDB state DB.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from typing import BinaryIO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from esg_assets.storage.errors import StoreIntegrityError

MAGIC = b"ESGENC1"
VERSION = 2
_READABLE_VERSIONS = (1, 2)
PREFIX_SIZE = 8
HEADER_SIZE = len(MAGIC) + 1 + PREFIX_SIZE
CHUNK_SIZE = 1024 * 1024
TAG_SIZE = 16
SEALED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
_MAX_CHUNKS = 2**32

_PURPOSES: dict[str, bytes] = {
    "files": b"esg-ratings/files/v1",
    "state-db": b"esg-ratings/state-db/v1",
}


def derive_key(master: bytes, purpose: str) -> bytes:
    """A 32-byte key for `purpose` ("files" or "state-db") derived from the master key."""
    if len(master) != 32:
        raise ValueError("the master key must be 32 bytes")
    if purpose not in _PURPOSES:
        raise ValueError(f"unknown key purpose {purpose!r}: expected one of {', '.join(_PURPOSES)}")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PURPOSES[purpose])
    return hkdf.derive(master)


def _bound(header: bytes, context: bytes) -> bytes:
    """The part of every chunk's aad before its counter: the header, plus the context (v2)."""
    if header[len(MAGIC)] == 1:
        return header
    if len(context) > 0xFFFF:
        raise ValueError("context is too long")
    return header + struct.pack(">H", len(context)) + context


def _nonce_and_aad(header: bytes, bound: bytes, counter: int, final: bool) -> tuple[bytes, bytes]:
    if counter >= _MAX_CHUNKS:
        raise StoreIntegrityError("encrypted stream has too many chunks")
    counter_bytes = struct.pack(">I", counter)
    return header[-PREFIX_SIZE:] + counter_bytes, bound + counter_bytes + (b"\x01" if final else b"\x00")


def encrypt_stream(key: bytes, chunks: Iterable[bytes], context: bytes = b"") -> Iterator[bytes]:
    """Encrypt plain `chunks` (any sizes) into the format above, bound to `context` (the
    logical name), holding at most ~2 MiB."""
    aead = AESGCM(key)
    header = MAGIC + bytes([VERSION]) + os.urandom(PREFIX_SIZE)
    bound = _bound(header, context)
    yield header
    buffer = bytearray()
    counter = 0
    for piece in chunks:
        buffer += piece
        # Strictly greater: a chunk is emitted as non-final only once we know more data follows,
        # so the final chunk may be a full 1 MiB (the decryptor reads one chunk ahead the same way).
        while len(buffer) > CHUNK_SIZE:
            nonce, aad = _nonce_and_aad(header, bound, counter, final=False)
            yield aead.encrypt(nonce, bytes(buffer[:CHUNK_SIZE]), aad)
            del buffer[:CHUNK_SIZE]
            counter += 1
    nonce, aad = _nonce_and_aad(header, bound, counter, final=True)
    yield aead.encrypt(nonce, bytes(buffer), aad)


class _Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


class _IterReader:
    """`read(n)` over an iterable of byte chunks, buffering no more than one chunk beyond n."""

    def __init__(self, chunks: Iterable[bytes]):
        self._it = iter(chunks)
        self._buffer = bytearray()
        self._done = False

    def read(self, size: int) -> bytes:
        while len(self._buffer) < size and not self._done:
            try:
                self._buffer += next(self._it)
            except StopIteration:
                self._done = True
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out


def _read_exact(source: _Readable, size: int) -> bytes:
    """Read up to `size` bytes, looping over short reads; fewer only at end of stream."""
    parts = bytearray()
    while len(parts) < size:
        piece = source.read(size - len(parts))
        if not piece:
            break
        parts += piece
    return bytes(parts)


def decrypt_stream(key: bytes, source: Iterable[bytes] | BinaryIO | _Readable, context: bytes = b"") -> Iterator[bytes]:
    """Plain chunks of an encrypted stream; raises StoreIntegrityError on any tampering, and on
    a version 2 file written for another `context` (another logical name).

    Each chunk is yielded only after its tag verified, so nothing unauthenticated ever comes out.
    A consumer must still treat the output as provisional until the iterator ends without error
    (truncation is detected at the end): write to a temp file and rename only then.
    """
    reader: _Readable = source if hasattr(source, "read") else _IterReader(source)  # type: ignore[arg-type]
    aead = AESGCM(key)
    header = _read_exact(reader, HEADER_SIZE)
    if len(header) < HEADER_SIZE or header[: len(MAGIC)] != MAGIC:
        raise StoreIntegrityError("not an ESG encrypted file (bad or missing header)")
    if header[len(MAGIC)] not in _READABLE_VERSIONS:
        raise StoreIntegrityError(f"unsupported encrypted file version {header[len(MAGIC)]}")
    bound = _bound(header, context)
    counter = 0
    current = _read_exact(reader, SEALED_CHUNK_SIZE)
    while True:
        if len(current) < TAG_SIZE:
            raise StoreIntegrityError("encrypted file is truncated")
        lookahead = _read_exact(reader, SEALED_CHUNK_SIZE)
        final = not lookahead
        nonce, aad = _nonce_and_aad(header, bound, counter, final=final)
        try:
            plain = aead.decrypt(nonce, current, aad)
        except InvalidTag:
            raise StoreIntegrityError(
                f"encrypted file failed authentication at chunk {counter} "
                "(tampered, truncated, reordered, swapped with another file, or the wrong key)"
            ) from None
        if plain:
            yield plain
        if final:
            return
        current = lookahead
        counter += 1


def plaintext_size(encrypted_size: int) -> int:
    """Plain size of a well-formed encrypted file of `encrypted_size` bytes (for listings)."""
    body = max(encrypted_size - HEADER_SIZE, 0)
    chunks = max(1, -(-body // SEALED_CHUNK_SIZE))
    return max(body - chunks * TAG_SIZE, 0)
