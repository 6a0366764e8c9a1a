"""Rotation of `ESG_FILE_ENCRYPTION_KEY`: re-encrypt every stored file and the state DB.

`esg-ratings keys rotate --new-key-file FILE` (or `ESG_NEW_FILE_ENCRYPTION_KEY`) runs
`rotate_keys`, with the job stopped (no run in progress, daemon stopped). It is crash-safe by
writing everything new *alongside* the old data first and swapping only at the end:

1. prepare: every `<name>.enc` is decrypted with the old files key and re-encrypted with the new
   one into `.<name>.enc.rotate-new` (0600, fsynced); the state DB is copied with
   `COPY FROM DATABASE` into `<state db>.rotate-new`, encrypted with the new state-db key. Any
   failure here (a file that does not authenticate, a full disk) removes the new copies and
   leaves the old data untouched.
2. a journal `<output dir>/.key-rotation.json` says "swapping" (it holds names, never a key);
3. swap: each new copy is renamed over the old one (`os.replace`, atomic), each audited
   (action `rotate-key`); then the journal is removed.

Interrupted in 1 (no journal): the old key still opens everything; run the command again (the
leftover `.rotate-new` copies are removed first). Interrupted in 3 (journal present): some files
are already under the new key; run the command again with the *same* new key and the old key in
`ESG_FILE_ENCRYPTION_KEY`: it finishes the swap. Afterwards put the new key in the secret store.
With `ESG_STORAGE=s3` the objects are SSE-KMS encrypted: their key is rotated in AWS KMS
(automatic key rotation), so only the state DB is re-encrypted here.

It stands above `storage/` and `state/` because it re-encrypts both (the state package already
imports storage's key derivation).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from esg_assets.settings import StorageSettings
from esg_assets.state.db import attach_encrypted, httpfs_extension_path, masked, sql_string
from esg_assets.storage import audit
from esg_assets.storage.crypto import decrypt_stream, derive_key, encrypt_stream
from esg_assets.storage.errors import StoreError, StoreIntegrityError
from esg_assets.storage.local import SUFFIX, ensure_private_dir
from esg_assets.storage.names import is_logical_name
from esg_assets.storage.store import Digest
from esg_assets.storage.tempfiles import atomic_write, fsync_dir

NEW_SUFFIX = ".rotate-new"
JOURNAL = ".key-rotation.json"
ACTION = "rotate-key"
NEW_KEY_ENV = "ESG_NEW_FILE_ENCRYPTION_KEY"


class RotationError(StoreError):
    """Rotation could not be done; the message is one line and never holds a key."""


@dataclass
class RotationReport:
    files: list[str] = field(default_factory=list)  # logical names re-encrypted
    state_db: bool = False  # whether the state DB was re-encrypted
    resumed: bool = False  # an interrupted swap was finished

    def __str__(self) -> str:
        what = f"{len(self.files)} stored file(s)" + (" and the state database" if self.state_db else "")
        return ("finished an interrupted key rotation: " if self.resumed else "re-encrypted ") + what


def _reencrypt_file(src: Path, dst: Path, old_key: bytes, new_key: bytes, name: str) -> str:
    """Write `dst` = `src` under the new key; the plain SHA-256 (audit record) is returned."""
    digest = Digest()
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with open(src, "rb") as source, os.fdopen(fd, "wb") as sink:
            for sealed in encrypt_stream(new_key, digest.tap(decrypt_stream(old_key, source, name.encode())), name.encode()):
                sink.write(sealed)
            sink.flush()
            os.fsync(sink.fileno())
    except BaseException:
        dst.unlink(missing_ok=True)
        raise
    return digest.hexdigest


def _open_duckdb() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False,
                                             "autoload_known_extensions": False})
    con.execute(f"LOAD {sql_string(str(httpfs_extension_path()))}")
    return con


def _copy_state_db(path: Path, target: Path, old_master: bytes, new_master: bytes) -> None:
    """`target` = the state DB at `path` re-encrypted with the new state-db key."""
    old_hex = derive_key(old_master, "state-db").hex()
    new_hex = derive_key(new_master, "state-db").hex()
    con = _open_duckdb()
    try:
        # Read-write, not READ_ONLY: it takes the lock (no run may write meanwhile) and lets the
        # checkpoint fold any WAL into the file, so no old-key WAL survives next to the new file.
        attach_encrypted(con, path, old_hex, alias="old_db")
        con.execute("CHECKPOINT old_db")
        attach_encrypted(con, target, new_hex, alias="new_db")
        con.execute("COPY FROM DATABASE old_db TO new_db")
        con.execute("CHECKPOINT new_db")
        con.execute("DETACH new_db")
        con.execute("DETACH old_db")
    except duckdb.Error as err:
        text = masked(err, old_hex, new_hex)
        raise RotationError(f"could not re-encrypt the state database {path}: {text}") from None
    finally:
        con.close()
    os.chmod(target, 0o600)
    if Path(f"{path}.wal").exists() or Path(f"{target}.wal").exists():
        raise RotationError(f"the state database {path} still has a write-ahead log; is a run in progress?")


class _Rotation:
    def __init__(self, settings: StorageSettings, new_master: bytes, actor: str | None):
        self.s = settings
        self.old_master = settings.encryption_key_bytes
        self.new_master = new_master
        self.actor = actor or settings.audit_actor
        self.local = settings.storage == "local"
        self.root = Path(settings.output_dir)
        # The journal lives with the output files when they are local, else next to the state DB.
        self.journal = (self.root if self.local else settings.state_db.parent) / JOURNAL
        self.db_new = Path(f"{settings.state_db}{NEW_SUFFIX}")

    def _audit(self, file: str | None, sha256: str | None, detail: str, outcome: str = "ok") -> None:
        audit.append(self.s.audit_log, actor=self.actor, action=ACTION, file=file, sha256=sha256,
                     outcome=outcome, detail=detail)

    def _leftovers(self) -> list[Path]:
        found = [self.db_new] if self.db_new.exists() else []
        if self.local and self.root.exists():
            found += sorted(self.root.glob(f".*{SUFFIX}{NEW_SUFFIX}"))
        return found

    def run(self) -> RotationReport:
        if self.journal.exists():
            return self._swap(json.loads(self.journal.read_text()), resumed=True)
        if self.new_master == self.old_master:
            raise RotationError("the new key is the current key; nothing to rotate")
        for stale in self._leftovers():  # an earlier attempt died before swapping: start over
            stale.unlink()
        plan: dict[str, Any] = {"files": [], "state_db": False}  # what the journal records
        try:
            plan["files"] = self._prepare_files()
            if self.s.state_db.exists():
                _copy_state_db(self.s.state_db, self.db_new, self.old_master, self.new_master)
                plan["state_db"] = True
        except BaseException as err:
            for partial in self._leftovers():
                partial.unlink(missing_ok=True)
            self._audit(None, None, f"rotation aborted before any swap: {type(err).__name__}", "error")
            if isinstance(err, StoreIntegrityError):
                raise RotationError(f"{err}; nothing was changed") from None
            raise
        self._write_journal(plan)
        return self._swap(plan, resumed=False)

    def _prepare_files(self) -> list[dict[str, str]]:
        if not self.local:
            return []
        ensure_private_dir(self.root)
        old_key = derive_key(self.old_master, "files")
        new_key = derive_key(self.new_master, "files")
        prepared = []
        for src in sorted(self.root.glob(f"*{SUFFIX}")):
            name = src.name[: -len(SUFFIX)]
            if not is_logical_name(name) or src.is_symlink():
                continue
            try:
                sha = _reencrypt_file(src, self._new_path(name), old_key, new_key, name)
            except StoreIntegrityError as err:
                raise StoreIntegrityError(f"{name}: {err}") from None
            prepared.append({"name": name, "sha256": sha})
        return prepared

    def _new_path(self, name: str) -> Path:
        return self.root / f".{name}{SUFFIX}{NEW_SUFFIX}"

    def _write_journal(self, plan: dict[str, Any]) -> None:
        atomic_write(self.journal, [json.dumps({"state": "swapping", **plan}).encode()], sync_dir=True)

    def _check_resume_key(self, plan: dict[str, Any]) -> None:
        """A resumed swap must use the key the new copies were written with: probe one file
        (its new copy if not yet swapped, else the swapped file), or, with no local file (none
        stored yet, or S3), the state DB the same way."""
        if not plan["files"]:
            if plan["state_db"]:
                self._check_resume_key_on_state_db()
            return
        name = plan["files"][0]["name"]
        probe = self._new_path(name)
        if not probe.exists():
            probe = self.root / f"{name}{SUFFIX}"
        try:
            with open(probe, "rb") as handle:
                for _ in decrypt_stream(derive_key(self.new_master, "files"), handle, name.encode()):
                    pass
        except StoreIntegrityError:
            raise RotationError(
                "an interrupted rotation must be finished with the same new key it started with"
            ) from None

    def _check_resume_key_on_state_db(self) -> None:
        probe = self.db_new if self.db_new.exists() else self.s.state_db
        con = _open_duckdb()
        try:
            attach_encrypted(con, probe, derive_key(self.new_master, "state-db").hex(), read_only=True, alias="probe")
        except duckdb.Error:
            raise RotationError(
                "an interrupted rotation must be finished with the same new key it started with"
            ) from None
        finally:
            con.close()

    def _swap(self, plan: dict[str, Any], resumed: bool) -> RotationReport:
        if resumed:
            self._check_resume_key(plan)
        report = RotationReport(resumed=resumed)
        for item in plan["files"]:
            name, new = item["name"], self._new_path(item["name"])
            if new.exists():  # absent: swapped before the interruption
                os.replace(new, self.root / f"{name}{SUFFIX}")
                self._audit(name, item["sha256"], "re-encrypted under the new files key")
            report.files.append(name)
        if self.local and plan["files"]:
            fsync_dir(self.root)
        if plan["state_db"]:
            if self.db_new.exists():
                os.replace(self.db_new, self.s.state_db)
                fsync_dir(self.s.state_db.parent)
                self._audit(None, None, "state database re-encrypted under the new state-db key")
            report.state_db = True
        self.journal.unlink(missing_ok=True)
        return report


def rotate_keys(settings: StorageSettings, new_master: bytes, actor: str | None = None) -> RotationReport:
    """Re-encrypt the local stored files and the state DB from the current key to `new_master`."""
    return _Rotation(settings, new_master, actor).run()
