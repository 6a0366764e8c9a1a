"""`esg-ratings audit repair`: cut off a torn last line of the audit log, and nothing else.

A crash or a full disk while appending can leave a partial last line (no closing newline, not a
record); every later store operation then fails closed, since chaining onto a damaged record
would hide the damage. Repair exists for that one case and refuses every other: the records
before the torn line must verify, and the head file must name the last good record (a head
further ahead means records were removed, which repair must never paper over). The cut bytes
are kept beside the log (`<log>.torn-<time>`, 0600) and the repair is itself an audit record
naming their size and SHA-256, so what was removed stays visible.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path

from esg_assets.clock import utc_text
from esg_assets.storage import audit
from esg_assets.storage.errors import AuditError


def _torn_tail(data: bytes) -> int | None:
    """Offset where a torn last line starts, or None when the log ends with a whole line."""
    if not data or data.endswith(b"\n"):
        return None
    return data.rfind(b"\n") + 1


def repair(path: Path | str, actor: str) -> str:
    """Cut a torn last line; returns what was done (one line). AuditError when there is
    nothing to repair or repair would hide damage."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        raise AuditError(f"audit log {path} does not exist; nothing to repair") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.lseek(fd, 0, os.SEEK_END)
        data = os.pread(fd, size, 0)
        start = _torn_tail(data)
        if start is None:
            raise AuditError("the audit log ends with a whole line: nothing to repair (see `esg-ratings audit verify`)")
        torn = data[start:]
        kept = path.with_name(f".{path.name}.repair.tmp")
        kept.write_bytes(data[:start])
        result = audit.verify(kept)
        kept.unlink()
        if not result.ok and "head" not in result.reason:
            raise AuditError(f"the records before the torn line do not verify ({result}); refusing to repair")
        head = audit._head(path)  # noqa: SLF001 - the head belongs to the same subject
        if head and isinstance(head.get("seq"), int) and head["seq"] > result.records:
            raise AuditError(f"the head file names seq {head['seq']} beyond the last whole record "
                             f"(seq {result.records}): records were removed; refusing to repair")
        stamp = utc_text(precision="compact")
        quarantine = path.with_name(f"{path.name}.torn-{stamp}")
        qfd = os.open(quarantine, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(qfd, torn)
            os.fsync(qfd)
        finally:
            os.close(qfd)
        os.ftruncate(fd, start)
        os.fsync(fd)
    finally:
        os.close(fd)
    digest = hashlib.sha256(torn).hexdigest()
    detail = f"cut a torn last line of {len(torn)} bytes, kept in {quarantine.name}"
    audit.append(path, actor=actor, action="repair", file=None, sha256=digest, detail=detail)
    return detail
