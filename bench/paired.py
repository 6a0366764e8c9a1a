"""Paired comparisons on a noisy, shared machine: variant A and B alternated, the ratio taken
pair by pair (the machine's load changes between pairs, much less within one).

    python -m bench.paired rate --base DIR --accounts 20000   # calls at R: the code in DIR vs this one
    python -m bench.paired client --requests 3000 --pairs 4   # per-request CPU of three clients
    python -m bench.paired fetch --base DIR --accounts 5000   # fetch CPU: the code in DIR vs this one

`rate` runs the job's fetch of the ESG API (the client, the limiter, the workers, no Dagster) in
a child process against the sandbox at R = 1,000, 20 ms, concurrency 32, once with the package
from `--base` and once with this one, and prints per run the sustained ratio ((N/R)/wall), the
most arrivals the sandbox counted in any 1 s window, and the child's CPU per account.
`client` sends sequential keep-alive GETs to a zero-latency sandbox and reads the CPU time of
this process: the job's `send_get` (its transport and own reader) against `http.client` alone,
urllib3 alone, a plain `requests` session (and httpx's synchronous client when it is installed:
it is no dependency of the job). `fetch` runs the job's whole fetch (clients, limiter, workers, no Dagster) of a
zero-latency, unlimited sandbox in a child process, once with the package from `--base` (a
checkout of another commit, put first on PYTHONPATH) and once with this one, and compares the CPU
per account of the child. Each prints every pair and the median ratio.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests

from bench.infra import Sandbox

RATE, LATENCY_MS, CONCURRENCY = 1000, 20, 32


def _client_cpu(sb: Sandbox, n: int, kind: str) -> float:
    """CPU seconds of this process per request (ms) for `n` sequential keep-alive GETs."""
    from esg_assets.resources.http import make_session, send_get

    token = sb.http.post(f"{sb.url}/oauth2/token", data={"grant_type": "client_credentials"},
                         auth=("sandbox-client", "sandbox-secret"), timeout=10).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", "User-Agent": "esg-ratings-batch/0.1"}
    paths = [f"/esg/v1/accounts/ACC-{i % 1000 + 1:07d}/esg-analysis" for i in range(n)]
    if kind == "send_get":  # the job's GET: transport.py with its own reader (wire.py)
        session = make_session(2)
        one = lambda path: send_get(session, sb.url + path, None, headers, 5.0, True).content  # noqa: E731
    elif kind == "requests":
        plain = requests.Session()
        one = lambda path: plain.get(sb.url + path, headers=headers, timeout=5.0).content  # noqa: E731
    elif kind == "urllib3":
        import urllib3

        pool = urllib3.HTTPConnectionPool("127.0.0.1", sb.port, maxsize=2, retries=False,
                                          timeout=urllib3.Timeout(connect=5.0, read=5.0))
        one = lambda path: pool.request("GET", path, headers=headers, redirect=False).data  # noqa: E731
    elif kind == "httpx":  # not a dependency of the job: measured when installed
        import httpx

        client = httpx.Client(base_url=sb.url, timeout=5.0, trust_env=False)
        one = lambda path: client.get(path, headers=headers).content  # noqa: E731
    else:
        conn = http.client.HTTPConnection("127.0.0.1", sb.port, timeout=5.0)

        def one(path: str) -> bytes:
            conn.request("GET", path, headers=headers)
            return conn.getresponse().read()
    one(paths[0])
    started = time.process_time()
    for path in paths:
        one(path)
    return 1000 * (time.process_time() - started) / n


_FETCH_CHILD = """
import sys, time
try:  # the names since the moves of issue 12; a --base tree from before them has the old ones
    from esg_assets.worker_pool import fetch_in_batches
    from esg_assets.resources.clients import open_upstream
except ImportError:
    from esg_assets.fetching import fetch_in_batches
    from esg_assets.resources.upstream import open_upstream
from esg_assets.settings import load_upstream
url, n, rate, known = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
env = {"ESG_AUTH_TOKEN_URL": url + "/oauth2/token", "ESG_CLIENT_ID": "sandbox-client",
       "ESG_CLIENT_SECRET": "sandbox-secret", "ESG_AMS_BASE_URL": url + "/ams", "ESG_API_BASE_URL": url + "/esg",
       "ESG_API_RATE_LIMIT_PER_SECOND": rate, "ESG_API_MAX_CONCURRENCY": "32", "ESG_API_TIMEOUT_SECONDS": "5"}
ids = [f"ACC-{i % known + 1:07d}" for i in range(n)]
with open_upstream(load_upstream(env)) as up:
    up.esg.fetch_analysis(ids[0])
    if len(sys.argv) > 5:
        import urllib.request
        urllib.request.urlopen(urllib.request.Request(url + "/_sandbox/requests/clear", method="POST")).read()
    started, cpu = time.monotonic(), time.process_time()
    fetch_in_batches(up.esg.fetch_analysis, ids, up.workers, lambda batch: None)
    print(time.monotonic() - started, 1000 * (time.process_time() - cpu) / n)
"""


def _fetch_child(sb: Sandbox, accounts: int, source: str | None, rate: int, known: int) -> tuple[float, float]:
    """(wall seconds, CPU ms per account) of the job's fetch in a child process, `source` first
    on its path; at a limited `rate` the sandbox's request log is cleared after the warm-up."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if source:
        env["PYTHONPATH"] = source
    argv = [sys.executable, "-c", _FETCH_CHILD, sb.url, str(accounts), str(rate), str(known)]
    out = subprocess.check_output(argv + (["clear"] if rate == RATE else []), env=env, cwd="/")
    wall, cpu = out.decode().split()[-2:]
    return float(wall), float(cpu)


def _fetch_cpu(sb: Sandbox, accounts: int, source: str | None) -> float:
    """CPU ms per account of the job's fetch, zero latency and no limit."""
    return _fetch_child(sb, accounts, source, 100_000, 1000)[1]


def _rate_run(sb: Sandbox, accounts: int, source: str | None, label: str) -> float:
    """The sustained ratio of one fetch at R (printed with the worst window and the CPU)."""
    wall, cpu = _fetch_child(sb, accounts, source, RATE, accounts)
    stats = sb.stats()
    ratio = accounts / RATE / wall
    print(f"  {label}: sustained {ratio:.3f} ({wall:.1f} s), max in any 1 s window {stats['esg_max_per_second']},"
          f" in flight at most {stats['esg_max_in_flight']}, 429s {stats.get('by_status', {}).get('429', 0)},"
          f" CPU {cpu:.3f} ms per account", flush=True)
    return ratio


def _pairs(a: Callable[[], float], b: Callable[[], float], pairs: int, label: str) -> list[float]:
    ratios = []
    for i in range(pairs):
        first, second = (a, b) if i % 2 == 0 else (b, a)  # alternate which goes first
        x, y = first(), second()
        ta, tb = (x, y) if i % 2 == 0 else (y, x)
        ratios.append(tb / ta)
        print(f"{label} pair {i + 1}: A {ta:.3f}  B {tb:.3f}  B/A {tb / ta:.3f}", flush=True)
    print(f"{label}: median B/A {statistics.median(ratios):.3f} over {pairs} pairs", flush=True)
    return ratios


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=("rate", "client", "fetch"))
    p.add_argument("--base", help="fetch, rate: a source tree of the code to compare against (A)")
    p.add_argument("--accounts", type=int, default=5000)
    p.add_argument("--requests", type=int, default=3000)
    p.add_argument("--pairs", type=int, default=4)
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="esg-paired-"))
    if args.what in ("rate", "fetch") and not args.base:
        p.error(f"{args.what} needs --base")
    base = str(Path(args.base).resolve()) if args.base else None
    if args.what == "rate":
        with Sandbox(work, accounts=args.accounts, seed=7, latency_ms=LATENCY_MS, rate_limit=round(RATE * 1.05)) as sb:
            _pairs(lambda: _rate_run(sb, args.accounts, base, "A"), lambda: _rate_run(sb, args.accounts, None, "B"),
                   args.pairs, f"sustained ratio at R = {RATE}, A = {args.base}, B = this tree ({args.accounts} accounts)")
        return 0
    if args.what == "fetch":
        with Sandbox(work, accounts=1000, seed=7) as sb:
            _pairs(lambda: _fetch_cpu(sb, args.accounts, base),
                   lambda: _fetch_cpu(sb, args.accounts, None), args.pairs,
                   f"fetch CPU ms per account, A = {args.base}, B = this tree ({args.accounts} accounts)")
        return 0
    with Sandbox(work, accounts=1000, seed=7) as sb:
        base = lambda: _client_cpu(sb, args.requests, "send_get")  # noqa: E731
        others = ["http.client", "urllib3", "requests"] + (["httpx"] if importlib.util.find_spec("httpx") else [])
        for other in others:
            _pairs(base, lambda other=other: _client_cpu(sb, args.requests, other), args.pairs,
                   f"CPU ms per request, A = the job's send_get (own reader), B = {other}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
