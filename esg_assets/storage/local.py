"""Local secure store: `<output_dir>/<logical name>.enc`, AES-256-GCM encrypted, private to the job.

The operating system is the real barrier: the directory is 0700 and every file 0600, owned by the
job's user. A directory that is looser or owned by someone else is refused, never "fixed", since
files may already have leaked from it and silently tightening it would hide that.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from esg_assets.settings import StorageSettings
from esg_assets.storage.crypto import decrypt_stream, derive_key, encrypt_stream, plaintext_size
from esg_assets.storage.errors import StoreError, StoreIntegrityError, StoreNotFoundError, StorePermissionError
from esg_assets.storage.names import is_logical_name
from esg_assets.storage.store import AuditedStore, Digest, StoredFile, StoredFileInfo
from esg_assets.storage.tempfiles import atomic_write, fsync_dir, sweep_leftovers

SUFFIX = ".enc"
_READ_SIZE = 1024 * 1024


def ensure_private_dir(path: Path) -> None:
    """Create `path` 0700 if missing; refuse (StorePermissionError) if it is not private to us."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            pass  # created concurrently by another step; checked below like any existing dir
        else:
            os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask
    info = os.stat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise StorePermissionError(f"output directory {path} is not a directory")
    if info.st_uid != os.getuid():
        raise StorePermissionError(
            f"output directory {path} is owned by uid {info.st_uid}, not the job's user (uid {os.getuid()}); refusing to use it"
        )
    if info.st_mode & 0o077:
        raise StorePermissionError(
            f"output directory {path} has mode {stat.S_IMODE(info.st_mode):04o}; it must be 0700 "
            f"(no group/other access): run `chmod 700 {path}` after checking its contents"
        )


class LocalStore(AuditedStore):
    def __init__(self, settings: StorageSettings, actor: str | None = None):
        super().__init__(settings, actor)
        self.root = Path(settings.output_dir)
        ensure_private_dir(self.root)
        self._key = derive_key(settings.encryption_key_bytes, "files")

    def _path(self, name: str) -> Path:
        return self.root / (name + SUFFIX)

    def write(self, logical_name: str, chunks: Iterable[bytes]) -> StoredFile:
        name = self._name(logical_name)
        final = self._path(name)
        sweep_leftovers(self.root)  # encrypted temp files of writers that were killed
        digest = Digest()
        try:
            atomic_write(final, encrypt_stream(self._key, digest.tap(chunks), name.encode()))
        except BaseException as err:
            self._audit("write", name, outcome="error", detail=f"write failed: {type(err).__name__}")
            if isinstance(err, OSError):  # a full or read-only file system, a vanished directory
                raise StoreError(f"cannot write {name} to the output directory {self.root}: "
                                 f"{err.strerror or type(err).__name__}") from None
            raise
        fsync_dir(self.root)  # the rename is durable only once the directory entry is on disk
        self._audit("write", name, sha256=digest.hexdigest, detail=f"{digest.size} bytes")
        return StoredFile(name, digest.hexdigest, digest.size, str(final))

    def _open(self, name: str) -> int:
        try:
            fd = os.open(self._path(name), os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            raise StoreNotFoundError(f"no stored file {name}") from None
        info = os.fstat(fd)
        if info.st_uid != os.getuid() or info.st_mode & 0o077:
            os.close(fd)
            raise StorePermissionError(
                f"stored file {name} has mode {stat.S_IMODE(info.st_mode):04o} or a foreign owner; refusing it"
            )
        return fd

    def read(self, logical_name: str) -> Iterator[bytes]:
        # Authorization and existence are checked now, not on first iteration, so callers fail fast.
        name = self._name(logical_name)
        self._check_reader(name)
        handle = os.fdopen(self._open(name), "rb", buffering=_READ_SIZE)
        return self._read(name, handle)

    def _read(self, name: str, handle: BinaryIO) -> Iterator[bytes]:
        with handle:
            yield from self._audited_read(name, decrypt_stream(self._key, handle, name.encode()))

    def exists(self, logical_name: str) -> bool:
        return self._path(self._name(logical_name)).exists()

    def delete(self, logical_name: str, reason: str, *, action: str = "delete") -> None:
        """Delete and audit; `action="retention-delete"` lets retention label its deletions."""
        name = self._name(logical_name)
        fd = self._open(name)
        digest = Digest()
        detail = reason[:200]
        try:
            # Hash what is being deleted so the audit record names the exact content removed.
            with os.fdopen(fd, "rb", buffering=_READ_SIZE) as handle:
                for _ in digest.tap(decrypt_stream(self._key, handle, name.encode())):
                    pass
            sha256: str | None = digest.hexdigest
        except StoreIntegrityError:
            sha256, detail = None, f"{detail} (content failed authentication)"
        try:
            self._path(name).unlink()
        except OSError as err:
            self._audit(action, name, sha256, outcome="error", detail=f"{detail}: {err.strerror}")
            raise
        fsync_dir(self.root)
        self._audit(action, name, sha256, detail=detail)

    def list(self) -> list[StoredFileInfo]:
        found = []
        with os.scandir(self.root) as entries:
            for entry in entries:
                if not entry.name.endswith(SUFFIX) or not entry.is_file(follow_symlinks=False):
                    continue
                name = entry.name[: -len(SUFFIX)]
                if not is_logical_name(name):
                    continue
                info = entry.stat(follow_symlinks=False)
                modified = datetime.fromtimestamp(info.st_mtime, tz=timezone.utc)
                found.append(StoredFileInfo(name, plaintext_size(info.st_size), modified))
        return sorted(found, key=lambda item: item.logical_name)
