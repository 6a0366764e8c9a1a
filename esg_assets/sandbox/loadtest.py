"""Throughput benchmark of the sandbox: `python -m esg_assets.sandbox.loadtest --requests 20000`.

Starts the server in a subprocess on a free loopback port, fetches a token, then drives ESG
analysis GETs over N keep-alive HTTP/1.1 connections (one request in flight per connection, as
a real client pool does) and prints the requests per second. The client is a minimal asyncio
one, so that it costs the machine less than the server it measures.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path



def start_server(extra: list[str], workdir: str) -> tuple[subprocess.Popen[bytes], int]:
    ready = Path(workdir) / "port"
    out = open(Path(workdir) / "sandbox.out", "wb")  # noqa: SIM115 - lives as long as the child
    cmd = [sys.executable, "-m", "esg_assets.cli", "sandbox", "serve", "--port", "0",
           "--ready-file", str(ready), *extra]
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("sandbox did not start: " + (Path(workdir) / "sandbox.out").read_text())
        time.sleep(0.02)
    return proc, int(ready.read_text())


def get_token(port: int) -> str:
    auth = base64.b64encode(b"sandbox-client:sandbox-secret").decode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/oauth2/token",
                                 data=b"grant_type=client_credentials",
                                 headers={"Authorization": f"Basic {auth}",
                                          "Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return str(json.load(resp)["access_token"])


async def _connection(port: int, token: str, ids: list[int], statuses: Counter[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\nAccept: application/json\r\n\r\n"
    for i in ids:
        writer.write(f"GET /esg/v1/accounts/ACC-{i:07d}/esg-analysis HTTP/1.1\r\n{head}".encode())
        header = await reader.readuntil(b"\r\n\r\n")
        status = int(header[9:12])
        start = header.lower().index(b"content-length:") + 15
        length = int(header[start : header.index(b"\r\n", start)])
        await reader.readexactly(length)
        statuses[status] += 1
    writer.close()


async def drive(port: int, token: str, requests: int, connections: int, accounts: int) -> tuple[float, Counter[int]]:
    statuses: Counter[int] = Counter()
    ids = [1 + n % accounts for n in range(requests)]
    shares = [ids[c::connections] for c in range(connections)]
    t0 = time.perf_counter()
    await asyncio.gather(*(_connection(port, token, share, statuses) for share in shares))
    return time.perf_counter() - t0, statuses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m esg_assets.sandbox.loadtest")
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--accounts", type=int, default=100000)
    parser.add_argument("--server-arg", action="append", default=[],
                        help="extra sandbox option, e.g. --server-arg=--request-log=/tmp/r.jsonl")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="esg-loadtest-") as workdir:
        proc, port = start_server(["--accounts", str(args.accounts), *args.server_arg], workdir)
        try:
            token = get_token(port)
            try:
                import uvloop

                runner = uvloop.run
            except ImportError:
                runner = asyncio.run
            elapsed, statuses = runner(drive(port, token, args.requests, args.connections, args.accounts))
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(15)
    rate = args.requests / elapsed
    print(f"{args.requests} requests over {args.connections} keep-alive connections in {elapsed:.2f} s: "
          f"{rate:,.0f} req/s (statuses {dict(statuses)}; cpus {os.cpu_count()}; server exit {code})")
    return 0 if code == 0 and set(statuses) == {200} else 1


if __name__ == "__main__":
    sys.exit(main())
