"""`make demo` / `make ui`: the job on the embedded default, from a fresh clone.

Starts the built-in sandbox on loopback, makes a local encryption key (mode 0600) unless
ESG_FILE_ENCRYPTION_KEY is set, then either materializes today's partition (America/Chicago)
of the four assets through `dagster asset materialize` and shows the files, or (--ui) runs
`dagster dev` on 127.0.0.1 with the same environment. The sandbox is stopped at the end.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".demo"
BIN = Path(sys.executable).parent
ASSETS = "active_accounts,esg_ratings,ratings_csv,daily_summary"


def _key(env: dict[str, str]) -> None:
    if env.get("ESG_FILE_ENCRYPTION_KEY"):
        return
    key_file = DEMO / "encryption.key"
    if not key_file.exists():
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(base64.b64encode(secrets.token_bytes(32)).decode())
    env["ESG_FILE_ENCRYPTION_KEY"] = key_file.read_text().strip()


def start_sandbox(accounts: int, error_rate: float) -> tuple[subprocess.Popen, int]:
    ready = DEMO / "sandbox.port"
    ready.unlink(missing_ok=True)
    log = open(DEMO / "sandbox.log", "wb")
    proc = subprocess.Popen(
        [str(BIN / "esg-ratings"), "sandbox", "serve", "--port", "0", "--accounts", str(accounts),
         "--seed", "7", "--error-rate", str(error_rate), "--ready-file", str(ready)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if ready.exists() and ready.read_text().strip():
            return proc, int(ready.read_text().strip())
        if proc.poll() is not None:
            sys.exit(f"demo: the sandbox exited early; see {DEMO / 'sandbox.log'}")
        time.sleep(0.1)
    proc.terminate()
    sys.exit("demo: the sandbox did not start within 30 s")


def job_env(port: int) -> dict[str, str]:
    env = dict(os.environ)
    home = DEMO / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    base = f"http://127.0.0.1:{port}"
    env.update(
        DAGSTER_HOME=str(home),
        ESG_AUTH_TOKEN_URL=f"{base}/oauth2/token",
        ESG_CLIENT_ID="sandbox-client",
        ESG_CLIENT_SECRET="sandbox-secret",
        ESG_AMS_BASE_URL=f"{base}/ams",
        ESG_API_BASE_URL=f"{base}/esg",
        ESG_API_BACKOFF_BASE_SECONDS=env.get("ESG_API_BACKOFF_BASE_SECONDS", "0.2"),
        ESG_API_TIMEOUT_SECONDS=env.get("ESG_API_TIMEOUT_SECONDS", "2"),
    )
    _key(env)
    return env


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def run_demo(env: dict[str, str]) -> int:
    partition = datetime.now(ZoneInfo("America/Chicago")).date().isoformat()
    print(f"demo: materializing partition {partition} of {ASSETS}", flush=True)
    code = subprocess.call(
        [str(BIN / "dagster"), "asset", "materialize", "-m", "esg_assets", "--select", ASSETS, "--partition", partition],
        env=env, cwd=ROOT,
    )
    if code != 0:
        print(f"demo: the run failed (exit {code})", file=sys.stderr)
        return code
    out = DEMO / "files"
    for kind in ("ratings", "errors", "summary"):
        subprocess.check_call([str(BIN / "esg-ratings"), "files", "get", partition, "--kind", kind, "--out", str(out)], env=env)
    ymd = partition.replace("-", "")
    summary = json.loads((out / f"FirmESGSummary_{ymd}.json").read_text())
    summary["failed_accounts"] = summary["failed_accounts"][:10] + (["..."] if len(summary["failed_accounts"]) > 10 else [])
    print(json.dumps(summary, indent=2))
    print(f"\nencrypted store: {env.get('ESG_OUTPUT_DIR', Path(env['DAGSTER_HOME']) / 'output')}")
    print(f"decrypted copies (audited read): {out}")
    with open(out / f"FirmESGRatings_{ymd}.csv", encoding="utf-8", newline="") as handle:
        print("".join(handle.readline() for _ in range(6)).replace("\r\n", "\n"))
    return 0


def run_ui(env: dict[str, str]) -> int:
    print("demo: Dagster UI on http://127.0.0.1:3000 (Ctrl-C to stop)", flush=True)
    wrapper = ("import os,signal,sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
               "os.execvp(sys.argv[1], sys.argv[1:])")
    proc = subprocess.Popen(
        [sys.executable, "-c", wrapper, str(BIN / "dagster"), "dev", "-m", "esg_assets", "-h", "127.0.0.1", "-p", "3000"],
        env=env, cwd=ROOT,
    )
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        return proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ui", action="store_true", help="run dagster dev instead of one materialization")
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--error-rate", type=float, default=0.02)
    args = parser.parse_args()
    DEMO.mkdir(exist_ok=True)
    proc, port = start_sandbox(args.accounts, args.error_rate)
    try:
        env = job_env(port)
        return run_ui(env) if args.ui else run_demo(env)
    finally:
        stop(proc)


if __name__ == "__main__":
    sys.exit(main())
