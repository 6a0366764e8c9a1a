"""A file's logical name (and so its partition) is bound into its ciphertext: an `.enc` copied
over another file's name is refused on every read and the refusal is audited; files of the
earlier format (version 1, no binding) stay readable."""

from __future__ import annotations

import shutil

import pytest

from esg_assets.settings import StorageSettings
from esg_assets.storage import StoreIntegrityError, audit, logical_name, open_store
from esg_assets.storage.crypto import CHUNK_SIZE, MAGIC, decrypt_stream, derive_key

RATINGS = logical_name("2026-11-27", "ratings")
ERRORS = logical_name("2026-11-27", "errors")
OTHER_DAY = logical_name("2026-11-26", "ratings")


@pytest.mark.parametrize("source", [ERRORS, OTHER_DAY])
def test_a_swapped_enc_is_refused_and_audited(settings: StorageSettings, source: str) -> None:
    store = open_store(settings)
    store.write(RATINGS, [b"Account ID\r\nACC-1\r\n"])
    store.write(source, [b"the other file\r\n"])
    shutil.copy(settings.output_dir / f"{source}.enc", settings.output_dir / f"{RATINGS}.enc")
    with pytest.raises(StoreIntegrityError, match="swapped"):
        b"".join(store.read(RATINGS))
    last = list(audit.records(settings.audit_log))[-1]
    assert (last["action"], last["file"], last["outcome"]) == ("read", RATINGS, "error")


def test_files_of_format_version_1_stay_readable(settings: StorageSettings) -> None:
    """A version-1 file, written the way the earlier release did (aad = header, counter, flag)."""
    import os
    import struct

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = derive_key(settings.encryption_key_bytes, "files")
    header = MAGIC + bytes([1]) + os.urandom(8)
    plain = b"x" * (CHUNK_SIZE + 5)
    aead = AESGCM(key)
    sealed = [header]
    for i, (piece, final) in enumerate([(plain[:CHUNK_SIZE], b"\x00"), (plain[CHUNK_SIZE:], b"\x01")]):
        counter = struct.pack(">I", i)
        sealed.append(aead.encrypt(header[-8:] + counter, piece, header + counter + final))
    store = open_store(settings)
    store.write(RATINGS, [b"placeholder"])
    (settings.output_dir / f"{RATINGS}.enc").write_bytes(b"".join(sealed))
    assert b"".join(store.read(RATINGS)) == plain
    # and a new file is version 2, bound to its name
    store.write(ERRORS, [b"bound"])
    data = (settings.output_dir / f"{ERRORS}.enc").read_bytes()
    assert data[len(MAGIC)] == 2
    assert b"".join(decrypt_stream(key, [data], ERRORS.encode())) == b"bound"
    with pytest.raises(StoreIntegrityError):
        b"".join(decrypt_stream(key, [data], RATINGS.encode()))
