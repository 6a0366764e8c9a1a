"""The alert ledger in the Dagster instance's PostgreSQL database, for a deployment on PostgreSQL.

Why: the SQLite ledger lives under one DAGSTER_HOME, and a deployment on PostgreSQL runs its
daemon, webserver and code servers on several hosts or pods; a daemon rescheduled onto a fresh
host would start with an empty file and send every alert again. The table sits in the instance's
own database (its connection URL, from the run storage), so whoever sees the runs sees the ledger.

Same rows and the same contract as `AlertLedger` (esg_assets/alerts/ledger.py): one row per
(partition, kind, channel), `pending` then `sent` for good, and a sender first claims pending rows
with a lease. The instance's key-value store (`kvs_set`) was not used: it only overwrites, with no
insert-if-absent or compare-and-set, so two senders could both believe they own a row.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa

from esg_assets.alerts.ledger import _SCHEMA as SQLITE_SCHEMA
from esg_assets.alerts.ledger import DEFAULT_LEASE_SECONDS, AlertLedger, Delivery, default_ledger_path
from esg_assets.alerts.model import Alert

if TYPE_CHECKING:  # only the type: like the rest of esg_assets.alerts, this module runs without Dagster
    import dagster as dg

TABLE = "esg_alert_delivery"

# The SQLite ledger's table, column for column; REAL is 4 bytes in PostgreSQL, too coarse for epochs.
_SCHEMA = SQLITE_SCHEMA.replace("alert_delivery", TABLE).replace(" REAL", " DOUBLE PRECISION")
_KEY = "partition = :partition AND kind = :kind AND channel = :channel"


def open_ledger(instance: "dg.DagsterInstance") -> AlertLedger | PostgresAlertLedger:
    """The ledger where every host of this instance sees it: in the instance's PostgreSQL database
    when its run storage is PostgreSQL, else the SQLite file under DAGSTER_HOME."""
    url = getattr(instance.run_storage, "postgres_url", None)
    if isinstance(url, str) and url:
        return PostgresAlertLedger(url)
    return AlertLedger(default_ledger_path())


class PostgresAlertLedger:
    """The `AlertLedger` API on PostgreSQL. Each call is one short transaction on its own
    connection (no pool kept between sensor ticks); row locks make claims exclusive."""

    def __init__(self, url: str):
        self._engine = sa.create_engine(url, poolclass=sa.NullPool)
        with self._engine.begin() as con:
            # Two first ticks at once may both create the table: serialize on an advisory lock.
            con.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:t))"), {"t": TABLE})
            con.execute(sa.text(_SCHEMA))

    def record(self, alert: Alert, channels: Sequence[str]) -> list[str]:
        """Note `alert` as pending on each channel that has no row for it yet; return those."""
        added: list[str] = []
        with self._engine.begin() as con:
            for channel in channels:
                row = con.execute(sa.text(
                    f"INSERT INTO {TABLE} (partition, kind, channel, status, alert_json, created_at)"
                    " VALUES (:partition, :kind, :channel, 'pending', :json, :now)"
                    " ON CONFLICT (partition, kind, channel) DO NOTHING RETURNING channel"),
                    {"partition": alert.partition, "kind": alert.kind.value, "channel": channel,
                     "json": alert.to_json(), "now": time.time()}).first()
                if row is not None:
                    added.append(channel)
        return added

    def claim(self, channel: str, *, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> list[Delivery]:
        """Take every pending, unleased row of `channel`, oldest first, for `lease_seconds`.
        `FOR UPDATE SKIP LOCKED` lets a concurrent claimer pass over rows being taken here."""
        now = time.time()
        with self._engine.begin() as con:
            rows = con.execute(sa.text(
                f"SELECT partition, kind, alert_json, attempts FROM {TABLE}"
                " WHERE channel = :channel AND status = 'pending' AND lease_until < :now"
                " ORDER BY created_at, partition, kind FOR UPDATE SKIP LOCKED"),
                {"channel": channel, "now": now}).all()
            for partition, kind, _, _ in rows:
                con.execute(sa.text(f"UPDATE {TABLE} SET lease_until = :until WHERE {_KEY}"),
                            {"until": now + lease_seconds, "partition": partition, "kind": kind, "channel": channel})
        return [Delivery(Alert.from_json(j), channel, attempts) for _, _, j, attempts in rows]

    def mark_sent(self, alert: Alert, channel: str, attempts: int) -> None:
        self._update(alert, channel, "status = 'sent', sent_at = :now, attempts = attempts + :n,"
                     " last_error = NULL, lease_until = 0", {"now": time.time(), "n": attempts})

    def mark_failed(self, alert: Alert, channel: str, attempts: int, error: str) -> None:
        """Keep the row pending and release the lease, so the next tick retries it."""
        self._update(alert, channel, "attempts = attempts + :n, last_error = :error, lease_until = 0",
                     {"n": attempts, "error": error[:500]})

    def _update(self, alert: Alert, channel: str, assignments: str, values: dict[str, object]) -> None:
        with self._engine.begin() as con:
            con.execute(sa.text(f"UPDATE {TABLE} SET {assignments} WHERE {_KEY}"),  # fixed fragments only
                        {**values, "partition": alert.partition, "kind": alert.kind.value, "channel": channel})

    def status(self, partition: str, kind: str) -> dict[str, str]:
        """{channel: 'pending' | 'sent'} for one alert (tests and troubleshooting)."""
        with self._engine.connect() as con:
            rows = con.execute(sa.text(f"SELECT channel, status FROM {TABLE} WHERE partition = :p AND kind = :k"),
                               {"p": partition, "k": str(kind)}).all()
        return {channel: status for channel, status in rows}

    def is_settled(self, partition: str, kind: str, channels: Sequence[str]) -> bool:
        """True when every channel already has a row (pending or sent) for this alert."""
        known = self.status(partition, kind)
        return all(channel in known for channel in channels)

    def rows(self) -> list[dict[str, object]]:
        """Every row, for the runbook's troubleshooting and for tests."""
        with self._engine.connect() as con:
            result = con.execute(sa.text(
                "SELECT partition, kind, channel, status, attempts, last_error, created_at, sent_at"
                f" FROM {TABLE} ORDER BY created_at"))
            return [dict(r._mapping) for r in result]
