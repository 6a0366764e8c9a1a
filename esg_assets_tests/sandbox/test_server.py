"""Integration tests: the sandbox as a real subprocess, exercised over real HTTP with `requests`.

Covers the listening line and clean SIGTERM exit, tokens (issue, bad credentials, expiry,
revocation, token scripts), AMS pagination with and without duplicates, every script step's
exact answer, the rate limiter, latency and in-flight statistics and the oracle. The changes
feed, days and the request log are in test_server_feed.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
import requests

from esg_assets_tests.sandbox.harness import SandboxProcess, ams_pages, bearer
from esg_assets_tests.sandbox.harness import get_analysis as analysis

pytestmark = pytest.mark.integration
TODAY = "2026-11-27"


@pytest.fixture(scope="module")
def sb() -> Iterator[SandboxProcess]:
    with SandboxProcess(accounts=2500, seed=3, today=TODAY, timeout_delay=1.0) as sandbox:
        yield sandbox


@pytest.fixture()
def fresh() -> Iterator[SandboxProcess]:
    """A private sandbox, for tests that change the world (days, knobs, revocation)."""
    with SandboxProcess(accounts=30, seed=4, today=TODAY) as sandbox:
        yield sandbox


def test_listening_line_ready_file_and_clean_sigterm() -> None:
    sandbox = SandboxProcess(accounts=5)
    sandbox.start()
    assert sandbox.output().strip() == f"sandbox listening on http://127.0.0.1:{sandbox.port}"
    assert sandbox.stop() == 0


def test_served_through_the_esg_ratings_command() -> None:
    """`python -m esg_assets.cli sandbox serve` prints the line on stdout and stops on SIGTERM."""
    proc = subprocess.Popen([sys.executable, "-m", "esg_assets.cli", "sandbox", "serve", "--port", "0",
                             "--accounts", "3"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        assert line.startswith("sandbox listening on http://127.0.0.1:"), line
        port = int(line.rsplit(":", 1)[1])
        assert requests.get(f"http://127.0.0.1:{port}/_sandbox/health", timeout=5).json() == {"ok": True}
    finally:
        proc.terminate()
        assert proc.wait(15) == 0


def test_token_endpoint(sb: SandboxProcess) -> None:
    url = f"{sb.url}/oauth2/token"
    ok = requests.post(url, data={"grant_type": "client_credentials"}, auth=("sandbox-client", "sandbox-secret"))
    assert ok.status_code == 200
    body = ok.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and len(body["access_token"]) > 20
    assert requests.post(url, data={"grant_type": "client_credentials"}, auth=("sandbox-client", "x")).status_code == 401
    assert requests.post(url, data={"grant_type": "client_credentials"}).status_code == 401
    assert requests.post(url, data={"grant_type": "password"}, auth=("sandbox-client", "sandbox-secret")).status_code == 400


def test_bearer_required_everywhere(sb: SandboxProcess) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}):
        assert analysis(sb, "ACC-0000001", headers).status_code == 401
        assert requests.get(f"{sb.url}/ams/v1/accounts?status=active", headers=headers).status_code == 401
        feed = requests.get(f"{sb.url}/esg/v1/esg-analysis/changes?since=2026-01-01T00:00:00Z", headers=headers)
        assert feed.status_code == 401


def test_token_expiry_and_revocation() -> None:
    with SandboxProcess(accounts=5, token_ttl=1) as sandbox:
        headers = bearer(sandbox)
        assert analysis(sandbox, "ACC-0000001", headers).status_code == 200
        time.sleep(1.1)
        assert analysis(sandbox, "ACC-0000001", headers).status_code == 401
        headers = bearer(sandbox)
        assert analysis(sandbox, "ACC-0000001", headers).status_code == 200
        assert sandbox.revoke()["revoked"] >= 1
        assert analysis(sandbox, "ACC-0000001", headers).status_code == 401


def test_token_script(fresh: SandboxProcess) -> None:
    fresh.token_script(["500", "401", "400", "ok"])
    url, auth = f"{fresh.url}/oauth2/token", ("sandbox-client", "sandbox-secret")
    codes = [requests.post(url, data={"grant_type": "client_credentials"}, auth=auth).status_code for _ in range(5)]
    assert codes == [500, 401, 400, 200, 200]
    fresh.config(timeout_delay=1.0)
    fresh.token_script(["timeout"])
    with pytest.raises(requests.ReadTimeout):
        requests.post(url, data={"grant_type": "client_credentials"}, auth=auth, timeout=0.3)


def test_ams_pagination_complete_and_validated(sb: SandboxProcess) -> None:
    headers = bearer(sb)
    records = ams_pages(sb, headers)
    assert [r["account_id"] for r in records] == [f"ACC-{i:07d}" for i in range(1, 2501)]
    assert all(r["status"] == "active" and r["updated_at"].endswith("Z") for r in records)
    names = [r["account_name"] for r in records[:20]]
    assert any("\r\n" in n for n in names) and any(not n.isascii() for n in names)
    for query in ("", "status=inactive", "status=active&limit=1001", "status=active&cursor=zzz"):
        assert requests.get(f"{sb.url}/ams/v1/accounts?{query}", headers=headers).status_code == 400


def test_ams_duplicates_across_pages(fresh: SandboxProcess) -> None:
    fresh.config(duplicate_rate=0.2)
    ids = [r["account_id"] for r in ams_pages(fresh, bearer(fresh), limit=7)]
    assert len(ids) > len(set(ids)) and set(ids) == {f"ACC-{i:07d}" for i in range(1, 31)}


def test_ok_analysis_matches_oracle_exactly(sb: SandboxProcess) -> None:
    headers = bearer(sb)
    oracle = {a["account_id"]: a for a in sb.accounts()}
    assert len(oracle) == 2500
    for account in ("ACC-0000001", "ACC-0000002", "ACC-0002500"):
        resp = analysis(sb, account, headers)
        assert resp.status_code == 200
        assert int(resp.headers["X-RateLimit-Limit"]) > 0 and "X-RateLimit-Remaining" in resp.headers
        assert json.loads(resp.content, parse_float=Decimal, parse_int=Decimal) == oracle[account]["analysis"]
        assert resp.json()["analysis_date"] in ("2026-11-25", "2026-11-26", "2026-11-27")
    assert analysis(sb, "ACC-9999999", headers).status_code == 404
    assert requests.get(f"{sb.url}/nowhere", headers=headers).json()["error"] == "not_found"


STEP_EXPECT = [
    ("500", 500), ("502", 502), ("503", 503), ("504", 504), ("403", 403), ("404", 404), ("400", 400),
    ("408", 408), ("422", 422), ("501", 501), ("505", 505), ("401", 401), ("ok", 200),
]


@pytest.mark.parametrize(("step", "status"), STEP_EXPECT)
def test_status_steps(sb: SandboxProcess, step: str, status: int) -> None:
    account = f"ACC-00001{STEP_EXPECT.index((step, status)):02d}"
    sb.script({account: [step]})
    resp = analysis(sb, account, bearer(sb))
    assert resp.status_code == status
    assert resp.json()["account_id" if status == 200 else "error"]


def test_429_steps_carry_retry_after(sb: SandboxProcess) -> None:
    sb.script({"ACC-0000200": ["429", "429:3", "429:date", "ok"]})
    headers = bearer(sb)
    answers = [analysis(sb, "ACC-0000200", headers) for _ in range(4)]
    assert [a.status_code for a in answers] == [429, 429, 429, 200]
    assert answers[0].headers["Retry-After"] == "1" and answers[1].headers["Retry-After"] == "3"
    from email.utils import parsedate_to_datetime

    ahead = parsedate_to_datetime(answers[2].headers["Retry-After"]).timestamp() - time.time()
    assert 0 < ahead <= 2.1


def test_body_steps(sb: SandboxProcess) -> None:
    headers = bearer(sb)
    steps = ["invalid-json", "invalid-array", "invalid-missing-id", "invalid-wrong-id", "invalid-score-type",
             "invalid-score-range", "invalid-pillar", "invalid-date", "partial", "partial-absent", "nodata"]
    sb.script({"ACC-0000300": steps})
    got = [analysis(sb, "ACC-0000300", headers) for _ in steps]
    assert {g.status_code for g in got} == {200}
    with pytest.raises(ValueError):
        got[0].json()
    bodies = dict(zip(steps[1:], (g.json() for g in got[1:]), strict=True))
    assert isinstance(bodies["invalid-array"], list)
    assert "account_id" not in bodies["invalid-missing-id"]
    assert bodies["invalid-wrong-id"]["account_id"] != "ACC-0000300"
    assert bodies["invalid-score-type"]["scores"]["overall"] == "abc"
    assert bodies["invalid-score-range"]["scores"]["environmental"] == 150
    assert bodies["invalid-pillar"]["primary_focus"]["pillar"] == "Economic"
    assert bodies["invalid-date"]["analysis_date"] == "2026-13-45"
    assert bodies["partial"]["scores"]["governance"] is None and bodies["partial"]["primary_focus"]["score"] is None
    assert "governance" not in bodies["partial-absent"]["scores"]
    assert set(bodies["nodata"]["scores"].values()) == {None}
    assert bodies["nodata"]["primary_focus"] == {"pillar": None, "score": None}


def test_timeout_and_reset_steps(sb: SandboxProcess) -> None:
    headers = bearer(sb)
    sb.script({"ACC-0000400": ["timeout", "ok"], "ACC-0000401": ["reset", "ok"]})
    start = sb.next_index()
    with pytest.raises(requests.ReadTimeout):
        analysis(sb, "ACC-0000400", headers, timeout=0.3)
    assert analysis(sb, "ACC-0000400", headers).status_code == 200
    with pytest.raises(requests.ConnectionError):
        analysis(sb, "ACC-0000401", headers)
    assert analysis(sb, "ACC-0000401", headers).status_code == 200
    time.sleep(1.0)  # let the abandoned timeout answer settle
    log = [(e["account_id"], e["outcome"], e["status"], e["attempt"]) for e in sb.requests(start)
           if e["kind"] == "analysis"]
    assert ("ACC-0000400", "dropped", None, 1) in log and ("ACC-0000400", "answered", 200, 2) in log
    assert ("ACC-0000401", "reset", None, 1) in log and ("ACC-0000401", "answered", 200, 2) in log


def test_rate_limit_and_window_statistics(fresh: SandboxProcess) -> None:
    headers = bearer(fresh)
    fresh.config(rate_limit=10)
    fresh.clear_requests()
    codes = [analysis(fresh, "ACC-0000001", headers) for _ in range(25)]
    limited = [c for c in codes if c.status_code == 429]
    assert len(limited) == 15 and all(c.headers["Retry-After"] == "1" for c in limited)
    assert codes[0].headers["X-RateLimit-Limit"] == "10"
    stats = fresh.stats()
    assert stats["esg_max_per_second"] == 25 and stats["by_status"] == {"200": 10, "429": 15}
    time.sleep(1.05)
    assert analysis(fresh, "ACC-0000001", headers).status_code == 200


def test_latency_and_max_in_flight(fresh: SandboxProcess) -> None:
    headers = bearer(fresh)
    fresh.config(latency_ms=300)
    fresh.clear_requests()
    threads = [threading.Thread(target=analysis, args=(fresh, f"ACC-000000{i}", headers)) for i in range(1, 6)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 0.3 <= time.monotonic() - start < 1.5
    assert fresh.stats()["esg_max_in_flight"] == 5
