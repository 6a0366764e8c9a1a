"""Paired comparisons on a noisy, shared machine: variant A and B alternated, the ratio taken
pair by pair (the machine's load changes between pairs, much less within one).

    python -m bench.paired order  --accounts 5000 --pairs 4   # rate slot before/after the place
    python -m bench.paired client --requests 3000 --pairs 4   # per-request CPU of three clients

`order` runs the fetch of the ESG API (the client, the limiter, the workers, no Dagster) against
the sandbox at R = 1,000, 20 ms, concurrency 32, once with the order of the code (rate slot,
then the in-flight place) and once with the old one (the place held while waiting for the slot).
`client` sends sequential keep-alive GETs to a zero-latency sandbox and reads the CPU time of
this process: `requests` through the adapter (the code's `send_get`), urllib3 alone, and
`http.client` (and httpx's synchronous client when it is installed: it is no dependency of
the job). Each prints every pair and the median ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib.util
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.infra import Sandbox

RATE, LATENCY_MS, CONCURRENCY = 1000, 20, 32


def _order_run(sb: Sandbox, accounts: int, old_order: bool) -> float:
    """Seconds to fetch `accounts` accounts; `old_order` holds the place during the slot wait."""
    from esg_assets.worker_pool import fetch_in_batches
    from esg_assets.resources.clients import open_upstream
    from esg_assets.settings import load_upstream

    env = {**sb.upstream_env(), "ESG_API_RATE_LIMIT_PER_SECOND": str(RATE),
           "ESG_API_MAX_CONCURRENCY": str(CONCURRENCY), "ESG_API_TIMEOUT_SECONDS": "5"}
    ids = [f"ACC-{i:07d}" for i in range(1, accounts + 1)]
    with open_upstream(load_upstream(env)) as up:
        getter = up.esg._getter  # noqa: SLF001
        if old_order:
            # The old order from outside: the real place taken around the whole request (slot
            # wait included), the getter's own place made a no-op.
            place, real_get = getter._in_flight, getter.get  # noqa: SLF001
            getter._in_flight = contextlib.nullcontext()  # noqa: SLF001

            def held(url: str, params: dict[str, str] | None = None, on_send: Callable[[], None] | None = None) -> object:
                with place:
                    return real_get(url, params, on_send)

            getter.get = held
        up.esg.fetch_analysis(ids[0])  # the token and a first connection, outside the timing
        started = time.monotonic()
        fetch_in_batches(up.esg.fetch_analysis, ids, up.workers, lambda batch: None)
        return time.monotonic() - started


def _client_cpu(sb: Sandbox, n: int, kind: str) -> float:
    """CPU seconds of this process per request (ms) for `n` sequential keep-alive GETs."""
    from esg_assets.resources.http import make_session, send_get

    token = sb.http.post(f"{sb.url}/oauth2/token", data={"grant_type": "client_credentials"},
                         auth=("sandbox-client", "sandbox-secret"), timeout=10).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", "User-Agent": "esg-ratings-batch/0.1"}
    paths = [f"/esg/v1/accounts/ACC-{i % 1000 + 1:07d}/esg-analysis" for i in range(n)]
    if kind == "requests":
        session = make_session(2)
        one = lambda path: send_get(session, sb.url + path, None, headers, 5.0, True).content  # noqa: E731
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
    p.add_argument("what", choices=("order", "client"))
    p.add_argument("--accounts", type=int, default=5000)
    p.add_argument("--requests", type=int, default=3000)
    p.add_argument("--pairs", type=int, default=4)
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="esg-paired-"))
    if args.what == "order":
        with Sandbox(work, accounts=args.accounts, seed=7, latency_ms=LATENCY_MS, rate_limit=round(RATE * 1.05)) as sb:
            _pairs(lambda: _order_run(sb, args.accounts, old_order=True),
                   lambda: _order_run(sb, args.accounts, old_order=False), args.pairs,
                   f"fetch seconds, A = place held during the slot wait, B = slot first ({args.accounts} accounts)")
        return 0
    with Sandbox(work, accounts=1000, seed=7) as sb:
        base = lambda: _client_cpu(sb, args.requests, "requests")  # noqa: E731
        others = ["urllib3", "http.client"] + (["httpx"] if importlib.util.find_spec("httpx") else [])
        for other in others:
            _pairs(base, lambda other=other: _client_cpu(sb, args.requests, other), args.pairs,
                   f"CPU ms per request, A = requests adapter (send_get), B = {other}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
