"""Append-only, hash-chained audit log of every access to an output file (JSON lines).

Record: {"seq", "time", "actor", "action", "file", "sha256", "outcome", "detail", "prev", "hash"}
where `hash` is SHA-256 over the canonical JSON (sorted keys, no spaces, UTF-8) of the record
without "hash", and `prev` is the previous record's hash (64 zeros for the first). Editing,
removing, reordering or inserting a record breaks the chain; `verify` names the first break.

A chain alone cannot show that its last records were cut off, so each append also writes a small
head file (`<log>.head`: last seq and hash) that `verify` compares with the log's end. A non-empty
log without its head fails verify (deleting the head must not hide a truncation); a head exactly
one record behind a log whose last record chains onto it is an interrupted append (the crash
fell between the log's fsync and the head's rewrite), reported as such and healed by the next
append. A torn last line (disk full, crash mid-write) is cut off by `audit repair`
(audit_repair.py), itself audited. Each record also holds `uid`, the OS user id of the process,
beside the self-asserted actor (records written before it have no `uid`).
Appends from several processes are serialized with an exclusive flock on the log.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from esg_assets.clock import utc_text
from esg_assets.storage.errors import AuditError
from esg_assets.storage.tempfiles import atomic_write

GENESIS = "0" * 64
# What a record may say was done, and how it ended (docs/security.md, "Audit log"); a refused
# read is the action "read" with the outcome "refused".
ACTIONS = ("write", "read", "delete", "retention-delete", "rotate-key", "verify", "repair")
OUTCOMES = ("ok", "refused", "error")
_FIELDS = ("seq", "time", "actor", "action", "file", "sha256", "outcome", "detail", "prev", "hash")
_WITH_UID = frozenset(_FIELDS) | {"uid"}
_TAIL_BLOCK = 8192


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of `verify`: ok, or where the chain first breaks (seq, 1-based line) and why."""

    ok: bool
    records: int
    seq: int | None = None
    line: int | None = None
    reason: str = ""
    note: str = ""  # ok, but worth saying (an interrupted append)

    def __str__(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.records} records" + (f" ({self.note})" if self.note else "")
        where = f"record seq {self.seq}" if self.seq is not None else "a record"
        line = f" (line {self.line})" if self.line is not None else ""
        return f"audit chain broken at {where}{line}: {self.reason}"


def record_hash(record: dict[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _now() -> str:
    return utc_text(precision="milliseconds")


def _last_line(fd: int) -> bytes | None:
    """The last non-empty line of the open log, read backwards so a long log costs nothing."""
    end = os.lseek(fd, 0, os.SEEK_END)
    if end == 0:
        return None
    tail = b""
    pos = end
    while pos > 0:
        step = min(_TAIL_BLOCK, pos)
        pos -= step
        tail = os.pread(fd, step, pos) + tail
        stripped = tail.rstrip(b"\n")
        if b"\n" in stripped:
            return stripped.rsplit(b"\n", 1)[1]
    return tail.rstrip(b"\n") or None


def _ensure_parent(path: Path) -> None:
    if not path.parent.exists():
        # Missing ancestors get the same private mode: the log names every file and actor.
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)


def _write_head(path: Path, seq: int, digest: str) -> None:
    atomic_write(path.with_name(path.name + ".head"), [json.dumps({"seq": seq, "hash": digest}).encode() + b"\n"])


def append(
    path: Path | str,
    *,
    actor: str,
    action: str,
    file: str | None,
    sha256: str | None = None,
    outcome: str = "ok",
    detail: str | None = None,
) -> dict[str, Any]:
    """Append one record (chained to the last one) and return it; AuditError if impossible."""
    if action not in ACTIONS:
        raise ValueError(f"invalid audit action {action!r}")
    if outcome not in OUTCOMES:
        raise ValueError(f"invalid audit outcome {outcome!r}")
    path = Path(path)
    _ensure_parent(path)
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError as err:
        raise AuditError(f"cannot open audit log {path}: {err.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        last = _last_line(fd)
        if last is None:
            seq, prev = 1, GENESIS
        else:
            try:
                previous = json.loads(last)
                seq, prev = int(previous["seq"]) + 1, str(previous["hash"])
            except (ValueError, KeyError, TypeError):
                # Fail closed: chaining onto a damaged record would hide the damage.
                raise AuditError(
                    f"audit log {path} ends with a malformed record; run `esg-ratings audit verify`"
                ) from None
        record: dict[str, Any] = {
            "seq": seq,
            "time": _now(),
            "actor": actor,
            "uid": os.getuid(),
            "action": action,
            "file": file,
            "sha256": sha256,
            "outcome": outcome,
            "detail": detail,
            "prev": prev,
        }
        record["hash"] = record_hash(record)
        line = json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n"
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
        _write_head(path, seq, record["hash"])
        return record
    except OSError as err:
        raise AuditError(f"cannot append to audit log {path}: {err.strerror}") from None
    finally:
        os.close(fd)  # closing releases the lock


def _parse(line: str) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or set(record) not in (set(_FIELDS), _WITH_UID):
        return None
    return record if isinstance(record["seq"], int) else None


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, line


def verify(path: Path | str) -> VerifyResult:
    """Check the whole chain; the first broken record and the kind of damage, or ok."""
    path = Path(path)
    if not path.exists():
        if _head(path) is None:
            return VerifyResult(ok=True, records=0)
        return VerifyResult(False, 0, None, None, "the audit log is missing but its head file exists")
    # First pass: which seqs exist where, so a gap can be told apart from a reordering.
    seen_at: dict[int, int] = {}
    for number, line in _lines(path):
        record = _parse(line)
        if record is not None:
            seen_at.setdefault(record["seq"], number)
    expected, prev, count, last_prev = 1, GENESIS, 0, None
    for number, line in _lines(path):
        record = _parse(line)
        if record is None:
            return VerifyResult(False, count, None, number, "not a well-formed audit record")
        seq = record["seq"]
        if record_hash(record) != record["hash"]:
            return VerifyResult(False, count, seq, number, "edited (its hash does not match its content)")
        if seq != expected:
            if seq < expected:
                why = "inserted or duplicated (its seq was already used)"
            elif seen_at.get(expected, 0) > number:
                why = f"reordered (record seq {expected} appears later, at line {seen_at[expected]})"
            else:
                missing = f"{expected}" if seq == expected + 1 else f"{expected}-{seq - 1}"
                why = f"record(s) removed before it (seq {missing} missing)"
            return VerifyResult(False, count, seq, number, why)
        if record["prev"] != prev:
            return VerifyResult(
                False, count, seq, number,
                "its prev does not match the previous record's hash (a record was edited, replaced or inserted)",
            )
        expected, prev, count, last_prev = seq + 1, record["hash"], count + 1, prev
    head = _head(path)
    if head is None and count:
        return VerifyResult(False, count, None, None, "the head file is missing (it may have been deleted to hide a truncation)")
    if head is not None and (head.get("seq"), head.get("hash")) != (expected - 1, prev):
        if (head.get("seq"), head.get("hash")) == (expected - 2, last_prev):
            return VerifyResult(True, count, note="the last append was interrupted before its head file was updated; "
                                "the next append updates it")
        if isinstance(head.get("seq"), int) and head["seq"] > expected - 1:
            why = f"record(s) removed from the end (log ends at seq {expected - 1}, head says {head['seq']})"
        else:
            why = "the log's last record does not match its head file"
        return VerifyResult(False, count, expected - 1 if count else None, None, why)
    return VerifyResult(ok=True, records=count)


def _head(path: Path) -> dict[str, Any] | None:
    head = path.with_name(path.name + ".head")
    try:
        value = json.loads(head.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def records(path: Path | str, since: date | None = None, until: date | None = None) -> Iterator[dict[str, Any]]:
    """Records whose UTC date is within [since, until] (both inclusive, each optional)."""
    path = Path(path)
    if not path.exists():
        return
    for _number, line in _lines(path):
        record = _parse(line)
        if record is None:
            continue
        try:
            day = date.fromisoformat(str(record["time"])[:10])
        except ValueError:
            continue
        if (since is None or day >= since) and (until is None or day <= until):
            yield record
