"""The `Store` interface the assets and the CLI use, and what both stores share (`AuditedStore`).

`open_store` (storage/factory.py) picks the local or the S3 store.

Both stores stream (memory does not grow with file size), write atomically, authenticate what they
read, and append an audit record for every write, read, deletion and refused read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from esg_assets.settings import StorageSettings
from esg_assets.storage import audit
from esg_assets.storage.errors import StoreAccessRefused, StoreIntegrityError
from esg_assets.storage.names import validate_logical_name


@dataclass(frozen=True)
class StoredFile:
    """What a write stored: the plain content's SHA-256 and size, and where it went."""

    logical_name: str
    sha256: str  # hex of the PLAIN content
    size: int  # plain bytes
    location: str  # path of the .enc file, or s3://bucket/key


@dataclass(frozen=True)
class StoredFileInfo:
    logical_name: str
    size: int  # plain bytes
    modified: datetime  # UTC


@runtime_checkable
class Store(Protocol):
    def write(self, logical_name: str, chunks: Iterable[bytes]) -> StoredFile: ...

    def read(self, logical_name: str) -> Iterator[bytes]: ...

    def exists(self, logical_name: str) -> bool: ...

    def delete(self, logical_name: str, reason: str, *, action: str = "delete") -> None:
        """Delete and audit (`action`: "delete", or "retention-delete" for the retention step)."""
        ...

    def list(self) -> list[StoredFileInfo]: ...


@dataclass
class Digest:
    """SHA-256 and byte count of a stream, updated as the chunks pass through `tap`."""

    size: int = 0
    _hash: "hashlib._Hash" = field(default_factory=hashlib.sha256)

    def tap(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            if chunk:
                self._hash.update(chunk)
                self.size += len(chunk)
                yield bytes(chunk)

    @property
    def hexdigest(self) -> str:
        return self._hash.hexdigest()


class AuditedStore:
    """What both stores share: who is acting, who may read, and the audit log."""

    def __init__(self, settings: StorageSettings, actor: str | None = None):
        self.settings = settings
        self.actor = actor or settings.audit_actor
        self.audit_log: Path = settings.audit_log

    def _audit(
        self, action: str, name: str, sha256: str | None = None, outcome: str = "ok", detail: str | None = None
    ) -> None:
        audit.append(
            self.audit_log, actor=self.actor, action=action, file=name, sha256=sha256,
            outcome=outcome, detail=detail,
        )

    def _name(self, logical_name: str) -> str:
        return validate_logical_name(logical_name)

    def _audited_read(
        self, name: str, chunks: Iterable[bytes], expected_sha256: str | None = None
    ) -> Iterator[bytes]:
        """Stream plain chunks and audit the read once: ok with the content hash, stopped early,
        or error (a hash that differs from `expected_sha256` is an integrity error)."""
        digest = Digest()
        try:
            yield from digest.tap(chunks)
            if expected_sha256 is not None and expected_sha256 != digest.hexdigest:
                raise StoreIntegrityError(
                    f"stored object {name} does not match the SHA-256 recorded when it was written"
                )
        except GeneratorExit:
            self._audit("read", name, detail=f"reader stopped after {digest.size} bytes")
            raise
        except Exception as err:
            detail = str(err) if isinstance(err, StoreIntegrityError) else type(err).__name__
            self._audit("read", name, outcome="error", detail=detail[:200])
            raise
        self._audit("read", name, sha256=digest.hexdigest, detail=f"{digest.size} bytes")

    def _check_reader(self, name: str) -> None:
        """Second, audited layer over the OS/IAM barrier: refuse actors not in the readers list."""
        if self.actor not in self.settings.authorized_readers:
            self._audit("read", name, outcome="refused", detail="actor not in ESG_AUTHORIZED_READERS")
            raise StoreAccessRefused(
                f"actor {self.actor!r} is not authorized to read output files (ESG_AUTHORIZED_READERS); "
                "the attempt was recorded in the audit log"
            )
