"""The audit log's vocabulary is closed: an action or outcome outside `audit.ACTIONS` /
`audit.OUTCOMES` is refused before anything is written, and the actions are the ones the
security guide lists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from esg_assets.storage import audit

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def test_an_unknown_action_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    audit.append(log, actor="job", action="write", file="FirmESGRatings_20261127.csv")
    before = log.read_bytes()
    with pytest.raises(ValueError, match="invalid audit action 'erase'"):
        audit.append(log, actor="job", action="erase", file="FirmESGRatings_20261127.csv")
    with pytest.raises(ValueError, match="invalid audit outcome"):
        audit.append(log, actor="job", action="read", file="FirmESGRatings_20261127.csv", outcome="maybe")
    assert log.read_bytes() == before


def test_every_action_appends_and_the_chain_holds(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    for action in audit.ACTIONS:
        audit.append(log, actor="job", action=action, file=None)
    assert audit.verify(log).ok


def test_the_actions_are_those_the_security_guide_lists() -> None:
    line = next(ln for ln in GUIDE.read_text(encoding="utf-8").splitlines() if ln.startswith("- `action`:"))
    assert re.findall(r"`([a-z-]+)`", line.split(":", 1)[1]) == sorted(audit.ACTIONS, key=line.index)
