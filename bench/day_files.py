"""The `ratings_csv` step's work alone: a synthetic day in a fresh state database, then the four
files written once through the local store, in this process (no Dagster run, no sandbox).

Prints the wall, CPU (user + system of this process) and peak RSS (VmHWM) of the write, and the
RSS before it, as one JSON line. `python -m bench.day_files --accounts 100000`. Used to compare
two source trees (run it with each on PYTHONPATH first) or two settings on the same machine.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PARTITION = "2026-11-27"


def _rss_mb(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def _fill(con: object, accounts: int) -> None:
    """Active accounts with results: 1 in 50 Failed, 1 in 20 Partial (one N/A score), the rest Success."""
    con.execute(  # type: ignore[attr-defined]
        "INSERT INTO accounts SELECT $p, printf('ACC-%07d', i), 'Firm ' || i || ', Inc.', '2026-11-26T00:00:00Z' "
        "FROM range($n) t(i)", {"p": PARTITION, "n": accounts})
    con.execute(  # type: ignore[attr-defined]
        """INSERT INTO ratings SELECT $p, printf('ACC-%07d', i),
             CASE WHEN i % 50 = 0 THEN 'Failed' WHEN i % 20 = 0 THEN 'Partial' ELSE 'Success' END,
             CASE WHEN i % 50 = 0 THEN NULL ELSE printf('%.6f', (i * 7919 % 100000) / 1000.0) END,
             CASE WHEN i % 50 = 0 THEN NULL ELSE printf('%.4f', (i * 104729 % 100000) / 1000.0) END,
             CASE WHEN i % 50 = 0 OR i % 20 = 0 THEN NULL ELSE printf('%.3f', (i * 31 % 100000) / 1000.0) END,
             CASE WHEN i % 50 = 0 THEN NULL ELSE printf('%.2f', (i * 17 % 100000) / 1000.0) END,
             CASE WHEN i % 50 = 0 THEN NULL ELSE 'Environmental' END,
             CASE WHEN i % 50 = 0 THEN NULL ELSE printf('%.6f', (i * 7919 % 100000) / 1000.0) END,
             CASE WHEN i % 50 = 0 THEN NULL ELSE '2026-11-26' END,
             'api', '2026-11-26T00:00:00Z',
             CASE WHEN i % 50 = 0 THEN 4 ELSE 1 END,
             CASE WHEN i % 50 = 0 THEN 'http_5xx' WHEN i % 20 = 0 THEN 'partial' END,
             CASE WHEN i % 50 = 0 THEN 503 END,
             CASE WHEN i % 50 = 0 THEN 'HTTP 503 after 4 attempts' WHEN i % 20 = 0 THEN 'social score missing' END,
             '2026-11-27T05:00:00Z', 'bench', NULL
           FROM range($n) t(i)""", {"p": PARTITION, "n": accounts})


def _env(home: Path, key: str) -> None:
    os.environ.update({"DAGSTER_HOME": str(home), "ESG_AUDIT_ACTOR": "bench", "ESG_AUTHORIZED_READERS": "bench",
                       "ESG_FILE_ENCRYPTION_KEY": key})


def _child(accounts: int, source: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if source:
        env["PYTHONPATH"] = source
    out = subprocess.check_output([sys.executable, os.path.abspath(__file__), "--accounts", str(accounts)], env=env, cwd="/")
    return json.loads(out.decode().splitlines()[-1])


def _paired(base: str, accounts: int, pairs: int) -> int:
    """A (the tree `base`) and B (this one) alternated pair by pair, which goes first alternating too."""
    for i in range(pairs):
        order = ("A", "B") if i % 2 == 0 else ("B", "A")
        got = {k: _child(accounts, base if k == "A" else None) for k in order}
        a, b = got["A"], got["B"]
        same = {k: a["sha256"][k] == b["sha256"][k] for k in a["sha256"]}
        print(json.dumps({"pair": i + 1, "A": a, "B": b, "same_bytes": same,
                          "B/A": {k: round(b[k] / a[k], 3) for k in ("wall_s", "cpu_s", "peak_rss_mb")}}))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--fill", metavar="HOME", help=argparse.SUPPRESS)  # the child that makes the day
    parser.add_argument("--base", metavar="DIR", help="A/B: A runs with the source tree DIR first on its path")
    parser.add_argument("--pairs", type=int, default=2)
    args = parser.parse_args(argv)
    if args.base:
        return _paired(args.base, args.accounts, args.pairs)
    from esg_assets.settings import load_storage
    from esg_assets.state.db import connect

    if args.fill:
        _env(Path(args.fill), os.environ["BENCH_KEY"])
        settings = load_storage()
        with connect(settings.state_db, settings.encryption_key_bytes) as con:
            _fill(con, args.accounts)
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-day-files-") as tmp:
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        # The day is made in a child, so this process's peak RSS is the write's alone.
        subprocess.run([sys.executable, os.path.abspath(__file__), "--accounts", str(args.accounts), "--fill", tmp],
                       env={**os.environ, "BENCH_KEY": key}, check=True)
        _env(Path(tmp), key)
        from esg_assets.outputs.day_files import write_rating_files
        from esg_assets.storage.factory import open_store

        settings = load_storage()
        with connect(settings.state_db, settings.encryption_key_bytes, memory_limit=settings.state_db_memory_limit) as con:
            store = open_store(settings)
            before = _rss_mb("VmRSS")
            cpu0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
            written = write_rating_files(con, store, PARTITION, "bench-run")
            wall = time.monotonic() - wall0
            cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        print(json.dumps({
            "accounts": args.accounts, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "rss_before_mb": round(before, 1), "peak_rss_mb": round(_rss_mb("VmHWM"), 1),
            "load": round(os.getloadavg()[0], 1),
            "files": {w.kind: w.stored.size for w in written},
            "sha256": {w.kind: w.stored.sha256[:12] for w in written},
        }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
