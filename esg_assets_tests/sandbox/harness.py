"""`SandboxProcess`: the sandbox server as a real subprocess, for this suite and the pipeline's.

    with SandboxProcess(accounts=50, seed=7) as sb:
        env = sb.env()                      # ESG_* upstream variables pointing at it
        sb.script({"ACC-0000001": ["503", "ok"]})
        sb.advance(days=1, esg_changed=["ACC-0000002"])

The child is started without importing `esg_assets/__init__.py` (which loads the Dagster
definitions, ~2 s and possibly mid-edit): a tiny bootstrap registers the package path and runs
`esg_assets.cli.sandbox.main`. Its stdout/stderr go to a file (never an undrained pipe) and the
port is read from `--ready-file`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from decimal import Decimal
from types import TracebackType
from typing import Any

import requests



class SandboxProcess:
    """Start `sandbox serve` on a free loopback port; stop it with SIGTERM on exit.

    Keyword arguments become options: `error_rate=0.1` -> `--error-rate 0.1`; `True` -> a bare flag.
    With `tls_cert=` and `tls_key=` the server speaks HTTPS: `scheme`/`url` follow, and
    `ca_bundle=` (a PEM file) is what the admin calls verify it with and what `env()` hands the
    job as `ESG_CA_BUNDLE`.
    """

    def __init__(self, start_timeout: float = 20.0, ca_bundle: str | Path | None = None, **options: Any) -> None:
        self.options = {"port": 0, "seed": 1, **options}
        self.start_timeout = start_timeout
        self.client_id = str(self.options.get("client_id", "sandbox-client"))
        self.client_secret = str(self.options.get("client_secret", "sandbox-secret"))
        self._tmp = tempfile.TemporaryDirectory(prefix="esg-sandbox-")
        self.output_path = Path(self._tmp.name) / "sandbox.out"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.ca_bundle = str(ca_bundle) if ca_bundle is not None else None
        self.http = requests.Session()
        # Passed on every call, not set on the session: REQUESTS_CA_BUNDLE would override a
        # session-level `verify` (requests merges the environment over it).
        self.verify: str | bool = self.ca_bundle or True

    # --- lifecycle ------------------------------------------------------------------------
    def command(self, ready_file: Path) -> list[str]:
        cmd = [sys.executable, "-m", "esg_assets.cli", "sandbox", "serve", "--ready-file", str(ready_file)]
        for key, value in self.options.items():
            flag = "--" + key.replace("_", "-")
            if value is True:
                cmd.append(flag)
            elif value is not None and value is not False:
                cmd += [flag, str(value)]
        return cmd

    def start(self) -> SandboxProcess:
        ready = Path(self._tmp.name) / "port"
        with open(self.output_path, "wb") as out:
            self.proc = subprocess.Popen(self.command(ready), stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self.start_timeout
        while not ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"sandbox did not start: {self.output()}")
            time.sleep(0.02)
        self.port = int(ready.read_text())
        return self

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait; returns the exit code (None if it had to be killed)."""
        self.http.close()
        if self.proc is None:
            return None
        code: int | None = self.proc.poll()
        if code is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                code = None
        self.proc = None
        return code

    def output(self) -> str:
        return self.output_path.read_text(errors="replace") if self.output_path.exists() else ""

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
        self._tmp.cleanup()

    # --- addresses ------------------------------------------------------------------------
    @property
    def scheme(self) -> str:
        return "https" if self.options.get("tls_cert") else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The upstream variables of configuration.md pointing at this sandbox."""
        env = {
            "ESG_AUTH_TOKEN_URL": f"{self.url}/oauth2/token",
            "ESG_CLIENT_ID": self.client_id,
            "ESG_CLIENT_SECRET": self.client_secret,
            "ESG_AMS_BASE_URL": f"{self.url}/ams",
            "ESG_API_BASE_URL": f"{self.url}/esg",
        }
        if self.ca_bundle is not None:
            env["ESG_CA_BUNDLE"] = self.ca_bundle
        return env

    # --- admin API ------------------------------------------------------------------------
    def _admin(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        resp = self.http.request(method, f"{self.url}/_sandbox/{path}", json=body, params=params or None,
                                 timeout=60, verify=self.verify)
        if resp.status_code != 200:
            raise RuntimeError(f"sandbox admin {path}: {resp.status_code} {resp.text}")
        return resp.json()

    def script(self, steps: dict[str, list[str | int] | None]) -> Any:
        return self._admin("POST", "script", steps)

    def clear_scripts(self) -> Any:
        return self._admin("POST", "script/clear")

    def token_script(self, steps: list[str]) -> Any:
        return self._admin("POST", "token-script", steps)

    def revoke(self) -> Any:
        return self._admin("POST", "revoke")

    def revoke_plan(self, after: list[int]) -> Any:
        """Revoke every token after each of these counts of accepted ESG requests."""
        return self._admin("POST", "revoke-plan", {"after": after})

    def advance(self, days: int = 1, **changes: Any) -> dict[str, Any]:
        """`POST /_sandbox/advance`: ams_updated, esg_changed, esg_changed_silently, added, removed,
        random_changes. Returns the summary (today, changed_at, the ids affected)."""
        return dict(self._admin("POST", "advance", {"days": days, **changes}))

    def config(self, **knobs: Any) -> dict[str, Any]:
        """Set runtime knobs (feed_mode, rate_limit, latency_ms, error_rate, ...); returns all."""
        if knobs:
            return dict(self._admin("POST", "config", knobs))
        return dict(self._admin("GET", "config"))

    def requests(self, since_index: int = 0) -> list[dict[str, Any]]:
        """Every logged upstream request from `since_index` on (paged through for you)."""
        out: list[dict[str, Any]] = []
        while True:
            page = self._admin("GET", "requests", since_index=since_index)
            out.extend(page["requests"])
            if page["next_index"] == since_index or not page["requests"]:
                return out
            since_index = page["next_index"]

    def next_index(self) -> int:
        return int(self.stats()["next_index"])

    def clear_requests(self) -> Any:
        return self._admin("POST", "requests/clear")

    def stats(self) -> dict[str, Any]:
        return dict(self._admin("GET", "stats"))

    def tokens(self) -> list[str]:
        """Every access token the sandbox issued so far (for secrets scans)."""
        return list(self._admin("GET", "tokens")["tokens"])

    def accounts(self) -> list[dict[str, Any]]:
        """Active accounts with their current analysis; scores parsed as Decimal (exact)."""
        resp = self.http.get(f"{self.url}/_sandbox/accounts", timeout=120, verify=self.verify)
        resp.raise_for_status()
        return list(json.loads(resp.content, parse_float=Decimal, parse_int=Decimal)["accounts"])

    # --- upstream convenience -------------------------------------------------------------
    def token(self) -> str:
        resp = self.http.post(f"{self.url}/oauth2/token", data={"grant_type": "client_credentials"},
                              auth=(self.client_id, self.client_secret), timeout=10, verify=self.verify)
        resp.raise_for_status()
        return str(resp.json()["access_token"])


def env_with(sandbox: SandboxProcess, **extra: str) -> dict[str, str]:
    """os.environ plus the sandbox's upstream variables plus `extra` (for subprocess runs)."""
    return {**os.environ, **sandbox.env(), **extra}


def bearer(sandbox: SandboxProcess) -> dict[str, str]:
    """Authorization header with a fresh token."""
    return {"Authorization": f"Bearer {sandbox.token()}"}


def get_analysis(sandbox: SandboxProcess, account: str, headers: dict[str, str], **kw: object) -> requests.Response:
    """GET one account's ESG analysis from the sandbox."""
    kw.setdefault("verify", sandbox.verify)
    return requests.get(f"{sandbox.url}/esg/v1/accounts/{account}/esg-analysis", headers=headers, **kw)  # type: ignore[arg-type]


def ams_pages(sandbox: SandboxProcess, headers: dict[str, str], limit: int = 1000) -> list[dict[str, str]]:
    """Every AMS record, page by page (duplicates kept, as served)."""
    out: list[dict[str, str]] = []
    cursor = None
    while True:
        params = {"status": "active", "limit": limit, **({"cursor": cursor} if cursor else {})}
        resp = requests.get(f"{sandbox.url}/ams/v1/accounts", params=params, headers=headers, timeout=10,
                            verify=sandbox.verify)
        assert resp.status_code == 200, resp.text
        out += resp.json()["data"]
        cursor = resp.json()["next_cursor"]
        if cursor is None:
            return out
