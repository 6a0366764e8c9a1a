"""Structured job logging and metrics: what operators and the monitoring system read.

Every event is one JSON line in `<log dir>/esg-ratings-YYYY-MM-DD.jsonl` (default
`$DAGSTER_HOME/logs`), one file per America/Chicago day of the event, so retention can delete a
day's lines by the date in the name (one ever-growing file kept a recent mtime, and its 2018
lines with it); the same line goes to Dagster's event log. Events carry run id, partition, asset, counts and
durations; never a secret and never an account name (account IDs only: data minimisation).
The daily figures are also written in Prometheus text format for a node-exporter textfile
collector (`<log dir>/../metrics/esg_ratings.prom`).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
from prometheus_client import CollectorRegistry, Gauge, generate_latest

from esg_assets.clock import utc_text
from esg_assets.domain.summary import Summary
from esg_assets.partitions import chicago_day
from esg_assets.storage.tempfiles import atomic_write

LOG_FILE_PATTERN = re.compile(r"esg-ratings-(?P<day>[0-9]{4}-[0-9]{2}-[0-9]{2})\.jsonl")
METRICS_FILE_NAME = "esg_ratings.prom"


def log_file(log_dir: Path, day: date) -> Path:
    """The job-log file of the Chicago `day` (see LOG_FILE_PATTERN)."""
    return log_dir / f"esg-ratings-{day.isoformat()}.jsonl"


def log_file_day(name: str) -> date | None:
    """The day a job-log file name stands for; None for any other file."""
    match = LOG_FILE_PATTERN.fullmatch(name)
    try:
        return date.fromisoformat(match["day"]) if match else None
    except ValueError:
        return None


def _append_line(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # One write() with O_APPEND per event: lines from concurrent runs never interleave.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
    finally:
        os.close(fd)


def _plain(value: object) -> object:
    return float(value) if isinstance(value, Decimal) else str(value)


class JobLog:
    """The structured log of one asset step."""

    def __init__(self, context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext, asset: str, log_dir: Path):
        self._context = context
        self._asset = asset
        self._log_dir = log_dir
        self._partition = context.partition_key if context.has_partition_key else None

    def event(self, event: str, level: str = "info", **fields: Any) -> None:
        now = datetime.now(timezone.utc)
        path = log_file(self._log_dir, chicago_day(now))
        record = {
            "ts": utc_text(now, "microseconds"),
            "level": level,
            "run_id": self._context.run_id,
            "partition": self._partition,
            "asset": self._asset,
            "event": event,
            **fields,
        }
        line = json.dumps(record, ensure_ascii=False, default=_plain, separators=(",", ":"))
        try:
            _append_line(path, line)
        except OSError as err:  # the log file must never fail the run
            self._context.log.warning(f"could not write the job log {path}: {err.strerror}")
        getattr(self._context.log, level)(f"{event} {line}")


# Folders the Dagster instance creates under DAGSTER_HOME: run storage (run configs, tags) and
# event logs name account IDs. A CLI process creates the first of them before it loads this
# code (and so before the package's umask 077), with mode 0755; each step closes them again.
_INSTANCE_DIRS = ("history", "schedules", "storage", "compute_logs", "logs")


def _private_instance_dirs(instance: dg.DagsterInstance) -> None:
    root = Path(instance.root_directory)
    for name in _INSTANCE_DIRS:
        path = root / name
        try:
            if path.is_dir() and not path.is_symlink() and path.stat().st_uid == os.getuid():
                path.chmod(0o700)
        except OSError:
            continue  # best effort: a folder we cannot change is documented, never fatal


@contextmanager
def observed_step(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext, asset: str, log_dir: Path
) -> Iterator[JobLog]:
    """`step_start`, then `step_end` with its duration, or `step_error` with the exception's
    class and one-line message (a critical error of the run)."""
    log = JobLog(context, asset, log_dir)
    _private_instance_dirs(context.instance)
    started = time.monotonic()
    log.event("step_start")
    try:
        yield log
    except BaseException as err:
        message = getattr(err, "description", None) or str(err)
        log.event(
            "step_error", level="error", error=type(err).__name__,
            message=message.splitlines()[0] if message else "", duration_seconds=round(time.monotonic() - started, 3),
        )
        raise
    log.event("step_end", duration_seconds=round(time.monotonic() - started, 3))


_GAUGES: tuple[tuple[str, str, Callable[[Summary], float]], ...] = (
    ("esg_ratings_accounts_total", "Active accounts in the latest partition.", lambda s: s.total_accounts),
    ("esg_ratings_success_rate", "Successful / total accounts.", lambda s: float(s.success_rate)),
    ("esg_ratings_call_failure_rate", "Failed / accounts called (the 5 % rule).", lambda s: float(s.call_failure_rate)),
    ("esg_ratings_accounts_called", "Accounts whose result came from an API call.", lambda s: s.accounts_called),
    ("esg_ratings_carried_forward", "Accounts carried forward without a call.", lambda s: s.carried_forward),
    ("esg_ratings_api_requests", "Requests to the ESG API in the latest run.", lambda s: s.api.requests),
    ("esg_ratings_api_retries", "Retries in the latest run.", lambda s: s.api.retries),
    ("esg_ratings_api_rate_limited", "429 answers in the latest run.", lambda s: s.api.rate_limited),
    ("esg_ratings_duration_seconds", "Duration of the latest run.", lambda s: s.duration_seconds),
)


def metrics_registry(summary: Summary, now: float | None = None) -> CollectorRegistry:
    """The day's figures as gauges in a registry of their own (one sample each, per partition)."""
    registry = CollectorRegistry(auto_describe=True)
    Gauge("esg_ratings_last_summary_timestamp_seconds", "Unix time the latest daily summary was written.",
          registry=registry).set(now or time.time())
    partition = summary.partition
    for name, help_text, value in _GAUGES:
        Gauge(name, help_text, ["partition"], registry=registry).labels(partition).set(value(summary))
    by_status = Gauge("esg_ratings_accounts_by_status", "Accounts per Processing Status.", ["partition", "status"],
                      registry=registry)
    for status, count in summary.status_counts.items():
        by_status.labels(partition, status).set(count)
    return registry


def prometheus_text(summary: Summary, now: float | None = None) -> str:
    """The day's figures in Prometheus text exposition format (prometheus_client's)."""
    return generate_latest(metrics_registry(summary, now)).decode("utf-8")


def write_metrics(metrics_dir: Path, summary: Summary) -> Path:
    """The day's figures as the textfile `METRICS_FILE_NAME` (replaced atomically)."""
    return write_textfile(metrics_dir, METRICS_FILE_NAME, prometheus_text(summary).encode("utf-8"))


def write_textfile(metrics_dir: Path, name: str, data: bytes) -> Path:
    """Replace the textfile `name` atomically, so the collector never reads half a file.

    Not `prometheus_client.write_to_textfile`: it leaves the file's mode to the umask, and the
    collector runs as another user. Here a private temporary file (unique per writer, so two runs
    of different days cannot rename each other's half-written file) is made 0644, written, synced
    and renamed over the textfile.
    """
    metrics_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = metrics_dir / name
    # The temp file ends in .tmp, not .prom: never collected. 0644: figures only, no personal data.
    atomic_write(path, [data], mode=0o644)
    return path
