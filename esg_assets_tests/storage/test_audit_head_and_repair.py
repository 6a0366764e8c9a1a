"""The audit log's head and its repair: a non-empty log without its head fails verify; a head one
record behind is an interrupted append, not tampering; a torn last line is cut by `esg-ratings
audit repair` (audited, the bytes kept), and repair refuses whenever it would hide damage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from esg_assets.storage import audit
from esg_assets.storage.audit_repair import repair
from esg_assets.storage.errors import AuditError
from esg_assets_tests.support.cli import run_cli
from esg_assets_tests.storage.test_audit import _fill


def _head(log: Path) -> Path:
    return log.with_name(log.name + ".head")


def test_a_log_without_its_head_fails_verify(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    _fill(log, 4)
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:2]))  # truncated, and the head that would show it deleted
    _head(log).unlink()
    result = audit.verify(log)
    assert not result.ok and "head file is missing" in str(result)


def test_a_head_one_record_behind_is_an_interrupted_append(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    records = _fill(log, 3)
    # The crash fell between the log's fsync and the head's rewrite of record 3.
    _head(log).write_text(json.dumps({"seq": 2, "hash": records[1]["hash"]}) + "\n")
    result = audit.verify(log)
    assert result.ok and "interrupted" in str(result)
    audit.append(log, actor="job", action="read", file=None)  # the next append heals the head
    assert str(audit.verify(log)) == "audit chain intact: 4 records"


def test_a_head_two_records_behind_is_still_damage(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    records = _fill(log, 3)
    _head(log).write_text(json.dumps({"seq": 1, "hash": records[0]["hash"]}) + "\n")
    assert not audit.verify(log).ok


def test_a_torn_last_line_is_repaired_audited_and_kept(tmp_path: Path, storage_env: Path,
                                                       capfd: pytest.CaptureFixture[str]) -> None:
    log = storage_env / "esg_audit.jsonl"
    _fill(log, 3)
    with open(log, "ab") as handle:
        handle.write(b'{"seq":4,"time":"2026-12-01T00:00:00.000Z","act')  # the disk filled up here
    with pytest.raises(AuditError):
        audit.append(log, actor="job", action="read", file=None)  # fails closed until repaired
    code, out, err = run_cli(capfd, "audit", "repair")
    assert code == 0, err
    assert "cut a torn last line of 47 bytes" in out
    kept = list(storage_env.glob("esg_audit.jsonl.torn-*"))
    assert len(kept) == 1 and kept[0].read_bytes().startswith(b'{"seq":4')
    last = list(audit.records(log))[-1]
    assert (last["seq"], last["action"], last["actor"]) == (4, "repair", "job")
    assert audit.verify(log).ok
    audit.append(log, actor="job", action="read", file=None)
    code, out, err = run_cli(capfd, "audit", "repair")
    assert code != 0 and "nothing to repair" in err


def test_repair_refuses_to_hide_removed_records(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    _fill(log, 4)
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:2]) + lines[2][:20])  # record 3 torn, record 4 gone; head says 4
    with pytest.raises(AuditError, match="records were removed"):
        repair(log, "job")


def test_repair_refuses_when_earlier_records_are_edited(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    _fill(log, 3)
    text = log.read_text().replace('"actor":"job"', '"actor":"eve"', 1)
    log.write_text(text + '{"seq":4')
    with pytest.raises(AuditError, match="do not verify"):
        repair(log, "job")
