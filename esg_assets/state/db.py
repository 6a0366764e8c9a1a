"""Opening the encrypted DuckDB state database, one writer at a time.

DuckDB lets one process hold the file. Runs of different partitions may overlap (backfills,
a rerun during the daily run), so every opener waits for the lock instead of failing, and the
job keeps connections short outside the fetching step.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from esg_assets.state.schema import SCHEMA
from esg_assets.storage.crypto import derive_key

log = logging.getLogger(__name__)

DEFAULT_LOCK_WAIT_SECONDS = 4 * 3600  # the job's whole window
_LOCK_POLL_SECONDS = 0.5


class StateLockTimeout(RuntimeError):
    pass


def httpfs_extension_path() -> Path:
    """The httpfs extension shipped in the duckdb-extension-httpfs wheel: DuckDB writes an
    encrypted database only with it loaded, and it must never be fetched from the network."""
    import duckdb_extension_httpfs

    base = Path(duckdb_extension_httpfs.__file__).parent / "extensions"
    candidates = sorted(base.glob(f"v{duckdb.__version__}/httpfs.duckdb_extension"))
    if not candidates:
        raise RuntimeError(f"httpfs extension for duckdb {duckdb.__version__} not found under {base}")
    return candidates[0]


def _is_lock_conflict(err: duckdb.Error) -> bool:
    text = str(err)
    return "Could not set lock" in text or "Conflicting lock" in text


@contextmanager
def connect(
    path: Path,
    master_key: bytes,
    *,
    read_only: bool = False,
    lock_wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with the state file attached (encrypted) as the default catalog."""
    con = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    try:
        con.execute(f"LOAD '{httpfs_extension_path()}'")
        key = derive_key(master_key, "state-db").hex()
        mode = ", READ_ONLY" if read_only else ""
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        deadline = time.monotonic() + lock_wait_seconds
        waited = False
        while True:
            try:
                con.execute(f"ATTACH '{path}' AS state (ENCRYPTION_KEY '{key}'{mode})")
                break
            except duckdb.InvalidInputException as err:
                raise RuntimeError(f"could not open the state database {path}: {str(err).replace(key, '***')}") from None
            except duckdb.IOException as err:
                if not _is_lock_conflict(err):
                    raise RuntimeError(f"could not open the state database {path}: {str(err).replace(key, '***')}") from None
                if time.monotonic() >= deadline:
                    raise StateLockTimeout(f"the state database {path} stayed locked by another process") from None
                if not waited:
                    log.info("state database is in use by another run; waiting for it")
                    waited = True
                time.sleep(_LOCK_POLL_SECONDS)
        con.execute("USE state")
        if not read_only:
            for statement in SCHEMA:
                con.execute(statement)
            path.chmod(0o600)
        yield con
    finally:
        con.close()
