"""Opening the encrypted DuckDB state database, one writer at a time.

DuckDB lets one process hold the file. Runs of different partitions may overlap (backfills,
a rerun during the daily run), so every opener waits for the lock instead of failing, and the
job keeps connections short outside the fetching step.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from esg_assets.state.schema import migrate
from esg_assets.storage.crypto import derive_key

log = logging.getLogger(__name__)

DEFAULT_LOCK_WAIT_SECONDS = 4 * 3600  # the job's whole window
_LOCK_POLL_SECONDS = 0.5


class StateLockTimeout(RuntimeError):
    pass


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """The one way the job writes several statements as a unit: BEGIN, then COMMIT when the
    block ends, ROLLBACK when anything (an error, an interrupt) leaves it. Without the
    rollback a failed statement would leave the connection inside an aborted transaction,
    refusing every later statement, and the block's first statements neither kept nor undone."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def httpfs_extension_path() -> Path:
    """The httpfs extension shipped in the duckdb-extension-httpfs wheel: DuckDB writes an
    encrypted database only with it loaded, and it must never be fetched from the network."""
    import duckdb_extension_httpfs

    base = Path(duckdb_extension_httpfs.__file__).parent / "extensions"
    candidates = sorted(base.glob(f"v{duckdb.__version__}/httpfs.duckdb_extension"))
    if not candidates:
        raise RuntimeError(f"httpfs extension for duckdb {duckdb.__version__} not found under {base}")
    return candidates[0]


def sql_string(text: str) -> str:
    """`text` as a DuckDB string literal (a `'` doubled), for the paths DuckDB takes only as
    literals (ATTACH, LOAD, temp_directory)."""
    return "'" + text.replace("'", "''") + "'"


def masked(err: duckdb.Error, *keys: str) -> str:
    """DuckDB's error in one line, with any run of the key's hex characters cut out: the key is
    never in a statement (see `_attach`), this is the second belt."""
    text = " ".join(str(err).split())
    for key in keys:
        for length in range(len(key), 7, -1):
            for start in range(len(key) - length + 1):
                text = text.replace(key[start:start + length], "***")
    return text


def attach_encrypted(
    con: duckdb.DuckDBPyConnection, path: Path, key: str, read_only: bool = False, alias: str = "state"
) -> None:
    """ATTACH with the key passed as a bound value through a session variable, never pasted
    into SQL text (the alias is the caller's constant): DuckDB 1.5.5's ATTACH takes no prepared parameters, and a parse error echoes
    the statement (a `'` in the path once sent the key to every log)."""
    mode = ", READ_ONLY" if read_only else ""
    con.execute("SET VARIABLE esg_state_key = ?", [key])
    try:
        con.execute(f"ATTACH {sql_string(str(path))} AS {alias} (ENCRYPTION_KEY getvariable('esg_state_key'){mode})")
    finally:
        con.execute("RESET VARIABLE esg_state_key")


def _is_lock_conflict(err: duckdb.Error) -> bool:
    text = str(err)
    return "Could not set lock" in text or "Conflicting lock" in text


# DuckDB's own memory (buffer pool, hash tables, sorts): past it, sorts, aggregates, joins and
# temp tables spill to a private directory beside the state DB instead of growing the process. 128 MB holds every query
# of the job at 1M accounts (docs/benchmarks.md, "B3 memory"); the default is 80 % of RAM.
MEMORY_LIMIT = "128MB"
# Return freed memory to the OS soon after each task: without this, memory a large query freed
# stays in the allocator's caches and counts in the process's RSS until it exits.
ALLOCATOR_FLUSH_THRESHOLD = "16MB"


# The AMS staging and its swap (a sort of the day's accounts, spilled past the cap): 32 MB is
# too little for the sort at 1,000,000 accounts (DuckDB could not pin a block); 64 MB held it,
# peak 222 MB against 319 MB under 128 MB (docs/benchmarks.md, "Peak RSS"). 32 MB for the calls'
# appends cost 30 ms per 100-result commit at 1,000,000 under load, unmeasured against 128 MB: not used.
STAGING_MEMORY_LIMIT = "64MB"
_LIMIT_VARIABLE = "esg_memory_limit"
_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}


def size_bytes(text: str) -> int:
    """A memory size as the settings write it (`128MB`, `1GB`) in bytes."""
    number, unit = re.fullmatch(r"([0-9]+)([KMGT]?B)", text.upper()).groups()  # type: ignore[union-attr]
    return int(number) * _UNITS[unit]


@contextmanager
def memory_cap(con: duckdb.DuckDBPyConnection, cap: str) -> Iterator[None]:
    """The connection's memory limit (the one `connect` set) lowered to `cap` for the block,
    then set back; a configured limit below `cap` stays as it is. Best effort: if DuckDB cannot
    give back enough memory to go under the cap at once, the block runs under the configured
    limit (larger by the difference, never wrong)."""
    configured = con.execute(f"SELECT getvariable('{_LIMIT_VARIABLE}')").fetchone()[0]  # type: ignore[index]
    # A connection `connect` did not open has no configured limit to come back to: left as it is.
    lowered = configured is not None and size_bytes(cap) < size_bytes(str(configured))
    if lowered:
        try:
            con.execute(f"SET memory_limit = '{cap}'")
        except duckdb.OutOfMemoryException:
            log.info("state database: could not lower the memory limit to %s; keeping %s", cap, configured)
            lowered = False
    try:
        yield
    finally:
        if lowered:
            con.execute(f"SET memory_limit = '{configured}'")


def temp_root(path: Path) -> Path:
    """Where DuckDB spills for the state database at `path`: beside it, private to the job."""
    return path.parent / f".{path.name}.tmp"


def _limit_memory(con: duckdb.DuckDBPyConnection, tmp: Path, memory_limit: str) -> None:
    # DuckDB 1.5.5 writes spilled data in plain text unless told otherwise, even for an
    # encrypted database (checked: account names readable in the temp files of a large sort).
    # With temp_file_encryption it encrypts them with the attached database's key.
    con.execute("SET temp_file_encryption = true")
    con.execute(f"SET temp_directory = {sql_string(str(tmp))}")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET VARIABLE {_LIMIT_VARIABLE} = ?", [memory_limit])  # what memory_cap sets back
    con.execute("SET threads = 2")  # one per core here; each thread holds its own sort/hash memory
    # Every read that needs an order says ORDER BY; without this DuckDB buffers to keep one.
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"SET allocator_flush_threshold = '{ALLOCATOR_FLUSH_THRESHOLD}'")
    con.execute("SET allocator_background_threads = true")


def _remove_stale(root: Path, keep: Path) -> None:
    """Spill directories of processes that no longer run (killed mid-query)."""
    for entry in root.iterdir():
        pid = entry.name.split("-", 1)[0]
        if entry == keep or not pid.isdigit():
            continue
        if int(pid) == os.getpid() or Path(f"/proc/{pid}").exists():
            continue
        shutil.rmtree(entry, ignore_errors=True)


@contextmanager
def connect(
    path: Path,
    master_key: bytes,
    *,
    read_only: bool = False,
    lock_wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS,
    memory_limit: str = MEMORY_LIMIT,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with the state file attached (encrypted) as the default catalog."""
    con = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    tmp: Path | None = None
    try:
        con.execute(f"LOAD {sql_string(str(httpfs_extension_path()))}")
        key = derive_key(master_key, "state-db").hex()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        deadline = time.monotonic() + lock_wait_seconds
        waited = False
        while True:
            try:
                attach_encrypted(con, path, key, read_only)
                break
            except duckdb.IOException as err:
                if not _is_lock_conflict(err):
                    raise RuntimeError(f"could not open the state database {path}: {masked(err, key)}") from None
                if time.monotonic() >= deadline:
                    raise StateLockTimeout(f"the state database {path} stayed locked by another process") from None
                if not waited:
                    log.info("state database is in use by another run; waiting for it")
                    waited = True
                time.sleep(_LOCK_POLL_SECONDS)
            except duckdb.Error as err:
                raise RuntimeError(f"could not open the state database {path}: {masked(err, key)}") from None
        con.execute("USE state")
        # One directory per connection (mkdtemp: 0700): two read-only opens may coexist, and
        # DuckDB gives its temp files the same names in every process.
        root = temp_root(path)
        root.mkdir(mode=0o700, exist_ok=True)
        root.chmod(0o700)
        tmp = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=root))
        _limit_memory(con, tmp, memory_limit)
        if not read_only:
            _remove_stale(root, keep=tmp)
            # One transaction: a crash leaves either the old layout or the new one.
            with transaction(con):
                migrate(con)
            path.chmod(0o600)
        yield con
    finally:
        con.close()
        # DuckDB removes its temp files on close; the directory goes too. A killed process
        # leaves its (encrypted) spill files behind: see _remove_stale.
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
