"""The alert ledger: which (partition, kind) went out on which channel, kept in SQLite.

Why SQLite and not the DuckDB state database: a running job holds DuckDB's file lock, and the
sensors must be able to write while it runs. SQLite in WAL mode with a busy timeout lets the
daemon's sensor threads, a restarted daemon and the tests share the file safely.

One row per (partition, kind, channel). A row is `pending` until the channel accepted the alert,
then `sent` for good, which is what makes "at most once per channel, across restarts" hold.
A sender first *claims* a pending row with a short lease, so two sensors (threads or processes)
never deliver the same row at the same time; a lease left by a crashed sender simply expires.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from esg_assets.alerts.model import Alert
from esg_assets.settings import ConfigError

LEDGER_FILE = "esg_alerts.sqlite"
DEFAULT_LEASE_SECONDS = 120.0  # longer than one tick's delivery budget

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_delivery (
    partition   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    channel     TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'sent')),
    alert_json  TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    lease_until REAL NOT NULL DEFAULT 0,
    created_at  REAL NOT NULL,
    sent_at     REAL,
    PRIMARY KEY (partition, kind, channel)
)
"""


def open_alerts_sql(table: str) -> str:
    """Alerts sent on at least one channel since `:since`, of days with no resolution yet; one
    text for both ledgers (SQLite here, PostgreSQL in pg_ledger.py)."""
    return (f"SELECT DISTINCT partition, kind FROM {table} AS d"
            " WHERE status = 'sent' AND kind != 'resolved' AND created_at >= :since"
            f" AND NOT EXISTS (SELECT 1 FROM {table} AS r WHERE r.partition = d.partition AND r.kind = 'resolved')")


def group_open_alerts(rows: Sequence[tuple[str, str]]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for partition, kind in rows:
        found.setdefault(partition, set()).add(kind)
    return found


def default_ledger_path(env: Mapping[str, str] | None = None) -> Path:
    """`$DAGSTER_HOME/esg_alerts.sqlite`, else beside ESG_STATE_DB (as settings derive paths)."""
    env = os.environ if env is None else env
    home = (env.get("DAGSTER_HOME") or "").strip()
    if home:
        return Path(home) / LEDGER_FILE
    state_db = (env.get("ESG_STATE_DB") or "").strip()
    if state_db:
        return Path(state_db).parent / LEDGER_FILE
    raise ConfigError("DAGSTER_HOME is not set (needed for the alert ledger esg_alerts.sqlite)")


@dataclass(frozen=True)
class Delivery:
    """A claimed pending row: deliver `alert` on `channel`, then `mark_sent` or `mark_failed`."""

    alert: Alert
    channel: str
    attempts: int


class AlertLedger:
    """Ledger API. Every method opens its own short connection, so an object is cheap and can be
    shared by threads; a fresh object on the same path sees everything (a daemon restart)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._initialise()
        try:
            os.chmod(self.path, 0o600)  # run ids and failure texts: same privacy as the outputs
        except OSError:
            pass

    def _initialise(self, *, patience: float = 30.0) -> None:
        """Switch the file to WAL (persistent: readers never block the writer) and create the table.

        Several processes may open a new file at once (daemon threads, a restarted daemon, the
        CLI). Changing the journal mode needs an exclusive lock, and SQLite answers "database is
        locked" at once instead of calling the busy handler when another connection is doing the
        same, so retry here for up to `patience` seconds."""
        deadline = time.monotonic() + patience
        delay = 0.01
        while True:
            try:
                with self._connect() as con:
                    if con.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                        con.execute("PRAGMA journal_mode=WAL")
                    con.execute(_SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            con.execute("PRAGMA busy_timeout=30000")
            yield con
        finally:
            con.close()

    def record(self, alert: Alert, channels: Sequence[str]) -> list[str]:
        """Note `alert` as pending on each channel that has no row for it yet; return those."""
        added: list[str] = []
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            for channel in channels:
                cur = con.execute(
                    "INSERT OR IGNORE INTO alert_delivery"
                    " (partition, kind, channel, status, alert_json, created_at)"
                    " VALUES (?, ?, ?, 'pending', ?, ?)",
                    (alert.partition, alert.kind.value, channel, alert.to_json(), time.time()),
                )
                if cur.rowcount:
                    added.append(channel)
            con.execute("COMMIT")
        return added

    def claim(self, channel: str, *, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> list[Delivery]:
        """Take every pending, unleased row of `channel`, oldest first, for `lease_seconds`."""
        now = time.time()
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")  # the write lock makes select-then-lease atomic
            rows = con.execute(
                "SELECT partition, kind, alert_json, attempts FROM alert_delivery"
                " WHERE channel = ? AND status = 'pending' AND lease_until < ?"
                " ORDER BY created_at, partition, kind",
                (channel, now),
            ).fetchall()
            con.executemany(
                "UPDATE alert_delivery SET lease_until = ? WHERE partition = ? AND kind = ? AND channel = ?",
                [(now + lease_seconds, p, k, channel) for p, k, _, _ in rows],
            )
            con.execute("COMMIT")
        return [Delivery(Alert.from_json(j), channel, attempts) for _, _, j, attempts in rows]

    def mark_sent(self, alert: Alert, channel: str, attempts: int) -> None:
        self._update(alert, channel, "status = 'sent', sent_at = ?, attempts = attempts + ?,"
                     " last_error = NULL, lease_until = 0", (time.time(), attempts))

    def mark_failed(self, alert: Alert, channel: str, attempts: int, error: str) -> None:
        """Keep the row pending and release the lease, so the next tick retries it."""
        self._update(alert, channel, "attempts = attempts + ?, last_error = ?, lease_until = 0",
                     (attempts, error[:500]))

    def _update(self, alert: Alert, channel: str, assignments: str, values: tuple) -> None:
        with self._connect() as con:
            con.execute(
                f"UPDATE alert_delivery SET {assignments}"  # noqa: S608 - fixed fragments only
                " WHERE partition = ? AND kind = ? AND channel = ?",
                (*values, alert.partition, alert.kind.value, channel),
            )

    def status(self, partition: str, kind: str) -> dict[str, str]:
        """{channel: 'pending' | 'sent'} for one alert (tests and troubleshooting)."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT channel, status FROM alert_delivery WHERE partition = ? AND kind = ?",
                (partition, str(kind)),
            ).fetchall()
        return dict(rows)

    def is_settled(self, partition: str, kind: str, channels: Sequence[str]) -> bool:
        """True when every channel already has a row (pending or sent) for this alert."""
        known = self.status(partition, kind)
        return all(channel in known for channel in channels)

    def open_alerts(self, since: float) -> dict[str, set[str]]:
        """{partition: kinds} of alerts recorded since `since` (epoch seconds) and sent on at
        least one channel, for partitions with no resolution recorded yet (docs/spec.md#alert-resolution)."""
        with self._connect() as con:
            rows = con.execute(open_alerts_sql("alert_delivery").replace(":since", "?"), (since,)).fetchall()
        return group_open_alerts(rows)

    def rows(self) -> list[dict[str, object]]:
        """Every row, for the runbook's troubleshooting and for tests."""
        with self._connect() as con:
            con.row_factory = sqlite3.Row
            return [dict(r) for r in con.execute(
                "SELECT partition, kind, channel, status, attempts, last_error, created_at, sent_at"
                " FROM alert_delivery ORDER BY created_at")]
