"""The alert ledger: at most once per (partition, kind, channel), also with a fresh ledger object
on the same file (a daemon restart) and with several processes claiming at once; WAL mode;
where the file lives."""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from esg_assets.alerts import Alert, AlertKind, AlertLedger, build_channels, default_ledger_path, dispatch
from esg_assets.settings import ConfigError
from esg_assets_tests.support.alerting import FAST, PagerDutyStandIn, SmtpServer

ALERT = Alert(AlertKind.FAILURE_THRESHOLD, "2026-11-27", "call failure rate 8.33% of 2026-11-27 is above 5 %",
              {"call_failure_rate": 0.0833}, occurred_at=datetime(2026, 11, 27, 14, 0, tzinfo=UTC))


def test_record_is_idempotent_and_survives_a_restart(ledger_path: Path) -> None:
    first = AlertLedger(ledger_path)
    assert first.record(ALERT, ["email", "pagerduty"]) == ["email", "pagerduty"]
    assert first.record(ALERT, ["email", "pagerduty"]) == []
    [claimed] = first.claim("email")
    assert claimed.alert == ALERT  # the stored form round-trips
    first.mark_sent(claimed.alert, "email", 1)

    restarted = AlertLedger(ledger_path)  # a new daemon process opens the same file
    assert restarted.record(ALERT, ["email", "pagerduty"]) == []
    assert restarted.status("2026-11-27", "failure_threshold") == {"email": "sent", "pagerduty": "pending"}
    assert restarted.claim("email") == []
    assert [d.channel for d in restarted.claim("pagerduty")] == ["pagerduty"]


def test_a_claimed_row_is_not_handed_out_twice_until_released(ledger: AlertLedger) -> None:
    ledger.record(ALERT, ["email"])
    assert len(ledger.claim("email")) == 1
    assert ledger.claim("email") == []  # leased to the first claimer
    ledger.mark_failed(ALERT, "email", 3, "ConnectionRefusedError")
    [again] = ledger.claim("email")
    assert again.attempts == 3
    assert ledger.rows()[0]["last_error"] == "ConnectionRefusedError"


def test_an_expired_lease_is_claimable_again(ledger: AlertLedger) -> None:
    ledger.record(ALERT, ["email"])
    assert len(ledger.claim("email", lease_seconds=-1)) == 1  # a sender that died mid-delivery
    assert len(ledger.claim("email")) == 1


ROUNDS = 3


def _claim_in_process(paths: list[str], start: multiprocessing.synchronize.Barrier, queue: multiprocessing.Queue) -> None:
    for round_, path in enumerate(paths):
        start.wait()  # all open the new file at the same moment, as a daemon restart and the CLI may
        ledger = AlertLedger(path)
        ledger.record(ALERT, ["email"])
        queue.put((round_, len(ledger.claim("email"))))


def test_concurrent_processes_claim_each_row_once(tmp_path: Path) -> None:
    """Three rounds, each on a file nobody created yet, raced by the same six processes (once
    six new processes per round: the check is the race on the new file, not the start-up)."""
    paths = [str(tmp_path / f"round{r}" / "esg_alerts.sqlite") for r in range(ROUNDS)]
    ctx = multiprocessing.get_context("spawn")
    start, queue = ctx.Barrier(6), ctx.Queue()
    procs = [ctx.Process(target=_claim_in_process, args=(paths, start, queue)) for _ in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * 6  # none failed with "database is locked"
    claims = [queue.get(timeout=5) for _ in range(6 * ROUNDS)]
    for round_ in range(ROUNDS):
        assert sorted(n for r, n in claims if r == round_) == [0, 0, 0, 0, 0, 1], round_


def test_wal_mode_and_private_file(ledger: AlertLedger) -> None:
    with sqlite3.connect(ledger.path) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert ledger.path.stat().st_mode & 0o077 == 0


def test_dispatch_with_a_fresh_ledger_sends_nothing_new(
    settings, smtp_server: SmtpServer, pagerduty: PagerDutyStandIn, ledger_path: Path
) -> None:
    assert len(dispatch([ALERT], AlertLedger(ledger_path), build_channels(settings), policy=FAST).sent) == 2
    again = dispatch([ALERT], AlertLedger(ledger_path), build_channels(settings), policy=FAST)
    assert again.recorded == [] and again.sent == [] and again.pending == []
    assert len(smtp_server.sink.messages) == 1 and len(pagerduty.events) == 1


def test_ledger_path_follows_dagster_home_then_the_state_db(tmp_path: Path) -> None:
    assert default_ledger_path({"DAGSTER_HOME": str(tmp_path)}) == tmp_path / "esg_alerts.sqlite"
    state_db = tmp_path / "state" / "esg_state.duckdb"
    assert default_ledger_path({"ESG_STATE_DB": str(state_db)}) == tmp_path / "state" / "esg_alerts.sqlite"
    with pytest.raises(ConfigError, match="DAGSTER_HOME"):
        default_ledger_path({})
