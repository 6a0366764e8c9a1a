"""`esg-ratings sandbox serve --port N --accounts N --seed N` (configuration.md): it starts and
answers the contract's token, accounts, analysis and changes-feed paths."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from datetime import date
from typing import Any

import pytest

from esg_assets_tests.conformance.harness import BIN
from esg_assets_tests.support.job import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


# ---- esg-ratings sandbox serve -----------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback test server
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_sandbox_serve_smoke() -> None:
    port = _free_port()
    cmd = [str(BIN / "esg-ratings"), "sandbox", "serve", "--port", str(port), "--accounts", "12", "--seed", "7"]
    proc = subprocess.Popen(cmd, cwd=REPO, env={k: v for k, v in os.environ.items() if not k.startswith("ESG_")},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 30
        while True:
            assert proc.poll() is None, "the sandbox exited"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.time() < deadline, "the sandbox never listened"
                time.sleep(0.1)
        base = f"http://127.0.0.1:{port}"
        # upstream-apis.yaml: `/oauth2/token` is the sandbox's default token path; the client id
        # and secret and the /ams and /esg prefixes are the sandbox's documented defaults.
        basic = base64.b64encode(b"sandbox-client:sandbox-secret").decode()
        status, token = _http(base + "/oauth2/token", b"grant_type=client_credentials",
                              {"Authorization": "Basic " + basic, "Content-Type": "application/x-www-form-urlencoded"})
        assert status == 200, token
        assert token["token_type"] == "Bearer" and token["access_token"] and isinstance(token["expires_in"], int)
        bearer = {"Authorization": "Bearer " + token["access_token"]}
        wrong = base64.b64encode(b"sandbox-client:not-the-secret").decode()
        assert _http(base + "/oauth2/token", b"grant_type=client_credentials",
                     {"Authorization": "Basic " + wrong, "Content-Type": "application/x-www-form-urlencoded"})[0] == 401
        assert _http(base + "/ams/v1/accounts?status=active")[0] == 401
        accounts: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(10):
            query = "status=active&limit=5" + (f"&cursor={urllib.request.quote(cursor)}" if cursor else "")
            status, page = _http(f"{base}/ams/v1/accounts?{query}", headers=bearer)
            assert status == 200, page
            assert len(page["data"]) <= 5
            accounts += page["data"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(accounts) == 12 and len({a["account_id"] for a in accounts}) == 12
        for account in accounts:
            assert {"account_id", "account_name", "status", "updated_at"} <= set(account)
            assert account["status"] == "active" and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", account["account_id"])
        first = accounts[0]["account_id"]
        status, analysis = _http(f"{base}/esg/v1/accounts/{first}/esg-analysis", headers=bearer)
        assert status == 200, analysis
        assert analysis["account_id"] == first and date.fromisoformat(analysis["analysis_date"])
        since = urllib.request.quote("2000-01-01T00:00:00Z")
        status, changes = _http(f"{base}/esg/v1/esg-analysis/changes?since={since}", headers=bearer)
        assert status == 200 and isinstance(changes["data"], list) and "next_cursor" in changes, changes
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
