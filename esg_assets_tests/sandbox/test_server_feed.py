"""Integration tests: the changes feed (inclusive `since`, 501/404/broken modes), advancing days,
the seeded error mix and the request log (API and file), against the sandbox subprocess."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from esg_assets.sandbox.world import parse_rfc3339, rfc3339
from esg_assets_tests.sandbox.harness import SandboxProcess, ams_pages, bearer
from esg_assets_tests.sandbox.harness import get_analysis as analysis

pytestmark = pytest.mark.integration


@pytest.fixture()
def fresh() -> Iterator[SandboxProcess]:
    with SandboxProcess(accounts=30, seed=4, today="2026-11-27") as sandbox:
        yield sandbox


def test_changes_feed_since_is_inclusive(fresh: SandboxProcess) -> None:
    headers = bearer(fresh)
    feed = f"{fresh.url}/esg/v1/esg-analysis/changes"
    before = analysis(fresh, "ACC-0000003", headers).json()
    summary = fresh.advance(days=1, esg_changed=["ACC-0000003"], esg_changed_silently=["ACC-0000004"],
                            ams_updated=["ACC-0000005"], added=1, removed=["ACC-0000006"])
    changed_at = summary["changed_at"]
    page = requests.get(feed, params={"since": changed_at}, headers=headers).json()
    assert page == {"data": [{"account_id": "ACC-0000003", "changed_at": changed_at}], "next_cursor": None}
    later = rfc3339(parse_rfc3339(changed_at) + timedelta(microseconds=1), True)
    assert requests.get(feed, params={"since": later}, headers=headers).json()["data"] == []
    after = analysis(fresh, "ACC-0000003", headers).json()
    assert after["analysis_date"] == "2026-11-28" and after["scores"] != before["scores"]
    assert analysis(fresh, "ACC-0000004", headers).json()["analysis_date"] == "2026-11-28"
    ids = [r["account_id"] for r in ams_pages(fresh, headers)]
    assert "ACC-0000006" not in ids and ids[-1] == "ACC-0000031"
    assert analysis(fresh, "ACC-0000006", headers).status_code == 200  # removed, still analysed
    assert requests.get(feed, headers=headers).status_code == 400
    assert requests.get(feed, params={"since": "yesterday"}, headers=headers).status_code == 400


def test_changes_feed_modes(fresh: SandboxProcess) -> None:
    headers = bearer(fresh)
    feed = f"{fresh.url}/esg/v1/esg-analysis/changes"
    params = {"since": "2026-01-01T00:00:00Z"}
    for mode, status in (("501", 501), ("404", 404)):
        fresh.config(feed_mode=mode)
        assert requests.get(feed, params=params, headers=headers).status_code == status
    fresh.config(feed_mode="broken")
    first = requests.get(feed, params=params, headers=headers).json()
    assert first["next_cursor"] is not None
    second = requests.get(feed, params={**params, "cursor": first["next_cursor"]}, headers=headers)
    assert second.status_code == 500
    with pytest.raises(RuntimeError):
        fresh.config(feed_mode="sometimes")


def test_error_mix_is_visible_in_the_oracle(fresh: SandboxProcess) -> None:
    fresh.config(error_rate=1.0)
    kinds = {a["account_id"]: a["behaviour"] for a in fresh.accounts()}
    assert all(kinds.values())
    headers = bearer(fresh)
    transient = next((a for a, k in kinds.items() if k == "transient-503"), None)
    if transient:
        assert [analysis(fresh, transient, headers).status_code for _ in range(2)] == [503, 200]


def test_request_log_api_and_file(tmp_path: Path) -> None:
    log_file = tmp_path / "requests.jsonl"
    with SandboxProcess(accounts=5, request_log=log_file) as sandbox:
        headers = bearer(sandbox)
        for account in ("ACC-0000001", "ACC-0000002", "ACC-0000001"):
            analysis(sandbox, account, headers)
        entries = sandbox.requests()
        assert [e["kind"] for e in entries] == ["token", "analysis", "analysis", "analysis"]
        assert [e["attempt"] for e in entries[1:]] == [1, 1, 2]
        assert entries[1]["path"] == "/esg/v1/accounts/ACC-0000001/esg-analysis" and entries[1]["status"] == 200
        assert sandbox.requests(2) == entries[2:]
        sandbox.clear_requests()
        assert sandbox.requests(4) == [] and sandbox.stats()["total_requests"] == 0
        assert sandbox.stop() == 0
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert [e["kind"] for e in lines] == ["token", "analysis", "analysis", "analysis"]
