"""The alert ledger of a PostgreSQL instance lives in that instance's database, where every host
sees it: two DAGSTER_HOMEs (two hosts) with the deployment file share one ledger, a claim is
taken by exactly one of several concurrent senders, and a crashed sender's lease expires."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import dagster as dg
import pytest

from esg_assets_tests.support.deploy import deploy_home
from esg_assets_tests.support.postgres import PostgresServer

from esg_assets.alerts import Alert, AlertKind, AlertLedger
from esg_assets.alerts.pg_ledger import PostgresAlertLedger, open_ledger

pytestmark = pytest.mark.integration
CHANNELS = ["email", "pagerduty"]


@pytest.fixture
def pg_env(postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh database, and the deployment file's variables pointing at it; returns its URL."""
    database = postgres.new_database()
    for name, value in postgres.env(database).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DAGSTER_COMPUTE_LOG_BUCKET", "unused-by-these-tests")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return postgres.url(database)


def alert(partition: str = "2026-11-20", kind: AlertKind = AlertKind.FAILURE_THRESHOLD) -> Alert:
    return Alert(kind, partition, f"{kind} of {partition}", {"run_id": "r1"})


def test_two_hosts_of_a_postgres_instance_share_one_ledger(pg_env: str, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    homes = [deploy_home(tmp_path / name) for name in ("daemon-host-1", "daemon-host-2")]
    ledgers = []
    for home in homes:
        monkeypatch.setenv("DAGSTER_HOME", str(home))  # what default_ledger_path() would follow
        ledgers.append(open_ledger(dg.DagsterInstance.from_config(str(home))))
    first, second = ledgers
    assert isinstance(first, PostgresAlertLedger) and isinstance(second, PostgresAlertLedger)

    assert first.record(alert(), CHANNELS) == CHANNELS
    assert second.record(alert(), CHANNELS) == []  # the other host already knows it
    [delivery] = second.claim("email")
    second.mark_sent(delivery.alert, "email", 1)
    assert first.status("2026-11-20", "failure_threshold") == {"email": "sent", "pagerduty": "pending"}
    assert first.is_settled("2026-11-20", AlertKind.FAILURE_THRESHOLD, CHANNELS)
    assert not any(home.joinpath("esg_alerts.sqlite").exists() for home in homes)


def test_a_sqlite_instance_keeps_the_file_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    ledger = open_ledger(dg.DagsterInstance.from_config(str(home)))
    assert isinstance(ledger, AlertLedger) and ledger.path == home / "esg_alerts.sqlite"


def test_one_of_many_concurrent_claimers_gets_each_row(pg_env: str) -> None:
    url = pg_env.replace("postgresql://", "postgresql+psycopg2://")
    PostgresAlertLedger(url).record(alert(), CHANNELS)
    start = threading.Barrier(8)
    taken: list[int] = []

    def claim() -> None:
        ledger = PostgresAlertLedger(url)  # its own connection, as a sensor on another host
        start.wait()
        taken.append(len(ledger.claim("pagerduty")))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(taken) == [0] * 7 + [1]


def test_a_crashed_senders_lease_expires_and_sent_is_for_good(pg_env: str) -> None:
    url = pg_env.replace("postgresql://", "postgresql+psycopg2://")
    ledger, failed = PostgresAlertLedger(url), alert(kind=AlertKind.RUN_FAILED)
    ledger.record(failed, ["email"])
    # A lease of 3 s, not less: the claim right after must fall inside it even on a loaded machine.
    claimed_at = time.monotonic()
    assert len(ledger.claim("email", lease_seconds=3)) == 1  # the sender dies here
    assert ledger.claim("email") == []
    restarted = PostgresAlertLedger(url)  # a restarted daemon, polling until the lease has expired
    deadline = claimed_at + 30
    while not (reclaimed := restarted.claim("email")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert time.monotonic() - claimed_at >= 3, "claimed again before the lease expired"
    [again] = reclaimed
    assert again.alert == failed
    ledger.mark_failed(again.alert, "email", 2, "smtp down")
    [third] = ledger.claim("email")
    ledger.mark_sent(third.alert, "email", 1)
    assert ledger.claim("email") == [] and ledger.record(third.alert, ["email"]) == []
    [row] = ledger.rows()
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 3, None)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_open_alerts_lists_sent_unresolved_days_on_both_ledgers(backend: str, pg_env: str, tmp_path: Path) -> None:
    """The resolution sensor's question ("which days still have an open alert?") gets the same
    answer from both ledgers: sent alerts only, none of a day already resolved, none too old."""
    ledger = AlertLedger(tmp_path / "alerts.sqlite") if backend == "sqlite" else PostgresAlertLedger(
        pg_env.replace("postgresql://", "postgresql+psycopg2://", 1))  # as the deployment file's instance has it
    since = time.time() - 60
    for a in (alert("2026-11-20"), alert("2026-11-20", AlertKind.RUN_FAILED), alert("2026-11-21"),
              alert("2026-11-22"), alert("2026-11-22", AlertKind.RESOLVED)):
        ledger.record(a, ["email"])
    for delivery in ledger.claim("email"):
        if delivery.alert.partition != "2026-11-21":  # 21: still pending, nothing sent yet
            ledger.mark_sent(delivery.alert, "email", 1)
    assert ledger.open_alerts(since) == {"2026-11-20": {"failure_threshold", "run_failed"}}
    assert ledger.open_alerts(time.time() + 60) == {}
