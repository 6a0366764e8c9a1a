"""How an outside suite drives the job: the variables of configuration.md, `dagster asset
materialize` and `esg-ratings files get` as subprocesses, and one run's slice of the server log."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import secrets
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from esg_assets_tests.conformance.upstream import Entry, Upstream, World
from esg_assets_tests.support.job import ALL_ASSETS, REPO, clean_environ

BIN = REPO / ".venv" / "bin"
RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|\+00:00)")
T = TypeVar("T")
R = TypeVar("R")


def parallel(fn: Callable[[T], R], items: Iterable[T], workers: int = 4) -> list[R]:
    """`fn` over `items` in threads, results in order: independent subprocesses (a `files get` per
    kind, runs of separate homes) wait for each other no longer than the slowest."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


def job_env(home: Path, upstream: Upstream, **extra: str) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {
        "DAGSTER_HOME": str(home),
        "ESG_FILE_ENCRYPTION_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "ESG_STATE_DB": str(home / "state" / "esg.duckdb"),
        "ESG_OUTPUT_DIR": str(home / "secure-out"),
        "ESG_API_BACKOFF_BASE_SECONDS": "0.01",
        "ESG_API_BACKOFF_MAX_SECONDS": "0.05",
        "ESG_API_TIMEOUT_SECONDS": "5",
        "ESG_CARRY_CHECK_SAMPLE": "0",  # these scenarios count the calls of change detection alone
        **upstream.env(),
        **extra,
    }
    (home / "state").mkdir(exist_ok=True)
    return clean_environ(**env)


def sh(cmd: list[str], env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)


def materialize(env: dict[str, str], partition: str) -> subprocess.CompletedProcess[str]:
    return sh([str(BIN / "dagster"), "asset", "materialize", "-m", "esg_assets", "--select", ALL_ASSETS,
               "--partition", partition], env)


@dataclass(frozen=True)
class Ran:
    """One run on a home and a server of its own: its variables, its process, the server's log."""

    env: dict[str, str]
    done: subprocess.CompletedProcess[str]
    log: list[Entry]


def materialize_apart(homes: dict[str, Path], worlds: dict[str, World], partition: str,
                      setup: Callable[[str, Path, Upstream], dict[str, str]]) -> dict[str, Ran]:
    """One `dagster asset materialize` per label, each on its home against its own server, all at
    once: runs that share nothing need not wait for each other. `setup` gives a run its variables."""

    def one(label: str) -> Ran:
        with Upstream(worlds[label]).running() as upstream:
            env = setup(label, homes[label], upstream)
            return Ran(env, materialize(env, partition), upstream.entries())

    return dict(zip(homes, parallel(one, homes)))


def files_get(env: dict[str, str], partition: str, kind: str, out: Path) -> subprocess.CompletedProcess[str]:
    return sh([str(BIN / "esg-ratings"), "files", "get", partition, "--kind", kind, "--out", str(out)], env)


def fetch(env: dict[str, str], partition: str, out: Path) -> dict[str, bytes]:
    ymd = partition.replace("-", "")
    names = {"ratings": f"FirmESGRatings_{ymd}.csv", "errors": f"FirmESGErrors_{ymd}.csv", "summary": f"FirmESGSummary_{ymd}.json"}

    def one(kind: str) -> bytes:
        done = files_get(env, partition, kind, out)
        assert done.returncode == 0, done.stdout + done.stderr
        return (out / names[kind]).read_bytes()

    return dict(zip(names, parallel(one, names)))


def rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


class Day:
    """One run: its process, the slice of the server log it caused and its plain files."""

    def __init__(self, upstream: Upstream, env: dict[str, str], partition: str, out: Path) -> None:
        first = len(upstream.entries())
        self.started = time.time()
        self.done = materialize(env, partition)
        self.ended = time.time()
        assert self.done.returncode == 0, self.done.stdout[-4000:] + self.done.stderr[-4000:]
        self.log = upstream.entries(since=first)
        self.tokens = list(upstream.issued)
        self.files = fetch(env, partition, out)
        self.summary: dict[str, Any] = json.loads(self.files["summary"])

    def esg(self) -> list[Entry]:
        return [e for e in self.log if e.kind in ("analysis", "feed")]

    def per_account(self) -> Counter[str]:
        return Counter(e.account_id for e in self.log if e.kind == "analysis" and e.account_id)


def assert_no_output(env: dict[str, str], partition: str, out: Path) -> None:
    kinds = ("ratings", "errors", "summary")
    refused = parallel(lambda kind: files_get(env, partition, kind, out).returncode != 0, kinds)
    assert all(refused), dict(zip(kinds, refused))
    store = Path(env["ESG_OUTPUT_DIR"])
    assert not store.exists() or not [p for p in store.iterdir() if partition.replace("-", "") in p.name]
