"""Conformance of the 5 % rule (output-and-behaviour.md §4) and of the alerts (§8), seen from
outside: the job runs with `dagster asset materialize` (harness.py) against the independent
upstream server (upstream.py), on a fresh DAGSTER_HOME holding the repository's dagster.yaml; a
real `dagster-daemon run` evaluates the sensors on that home; a real SMTP server (aiosmtpd) and a
PagerDuty stand-in (esg_assets_tests/alerts/conftest.py) receive what it sends.

Three partitions, run one after the other while the daemon runs:
- P5: 20 accounts called, 1 Failed, call_failure_rate exactly 0.05: the check on `esg_ratings`
  passes, every file is written, nothing is sent;
- P6: 50 accounts called, 3 Failed, 0.06: the check fails (severity ERROR), the run still
  succeeds and writes every file, and `failure_threshold` goes out once by e-mail and once to
  PagerDuty (severity "error");
- PF: the token endpoint answers 401, the run fails: `run_failed` goes out once on each channel
  (severity "critical").
Then the daemon is restarted: nothing is sent again. The daemon's own `missed_start` for today
(no run of today's partition) may arrive too; it is the only other alert allowed.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import getaddresses, parseaddr
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from dagster._core.scheduler.instigation import InstigatorType, TickStatus
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from esg_assets_tests.alerts.conftest import (
    RECIPIENTS, ROUTING_KEY, SENDER, PagerDutyStandIn, SmtpServer, alert_env, free_port, start_pagerduty,
    start_smtp, stop_daemon,
)
from esg_assets_tests.alerts.test_daemon_e2e_run_monitoring import last_tick
from esg_assets_tests.conformance import worlds as w
from esg_assets_tests.conformance.harness import BIN, RFC3339_UTC, Day, job_env, materialize, rows
from esg_assets_tests.conformance.upstream import Reply, Upstream, World
from esg_assets_tests.conftest import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

P5, P6, PF = "2026-11-20", "2026-11-21", "2026-11-22"
RATINGS = dg.AssetKey("esg_ratings")
SUBJECT = re.compile(r"\[ESG Ratings\] (\S+) (\S+): (\S[^\r\n]*)")
E = dg.DagsterEventType
DONE_TICK = (TickStatus.SKIPPED, TickStatus.SUCCESS)  # a finished, not failed, evaluation
FAILED_404 = Reply(404, '{"error": "not_covered"}')
FAILED_403 = Reply(403, '{"error": "forbidden"}')
FAILED_422 = Reply(422, '{"error": "unprocessable"}')


# ---- the worlds: n accounts, all called (feed 501), the listed ones Failed ------------------------
def graded(prefix: str, n: int, failed: dict[str, Reply], day: str) -> tuple[World, bytes]:
    """A world of `n` accounts whose `failed` ones answer a final error, and the ratings CSV the
    contract says it makes (hand-written rows, in Account ID order)."""
    ids = [f"{prefix}-{i:02d}" for i in range(1, n + 1)]
    assert set(failed) <= set(ids)
    analyses = {aid: [failed[aid]] if aid in failed else [w.ok(aid, "61.5", "62.25", "63", "64", "Social", "63", day)]
                for aid in ids}
    world = World(accounts=[w.acct(aid, f"Graded {aid}") for aid in ids], analyses=analyses, feed=None,
                  expires_in=3600)
    lines = [f"{aid},Graded {aid}," + (w.FAILED_NA if aid in failed else f"61.50,62.25,63.00,64.00,Social,63.00,{day},Successful")
             for aid in ids]
    return world, w.csv_text(lines)


WORLD5, CSV5 = graded("T5", 20, {"T5-07": FAILED_404}, P5)  # 1 / 20 = 0.05
WORLD6, CSV6 = graded("T6", 50, {"T6-05": FAILED_404, "T6-23": FAILED_403, "T6-41": FAILED_422}, P6)  # 3 / 50


# ---- the servers, the home, the daemon -----------------------------------------------------------
@pytest.fixture(scope="module")
def server() -> Iterator[Upstream]:
    with Upstream(WORLD5).running() as upstream:
        yield upstream


@pytest.fixture(scope="module")
def mail() -> Iterator[SmtpServer]:
    smtp = start_smtp(free_port())  # offers no AUTH: a login attempt would fail the delivery
    yield smtp
    smtp.controller.stop()


@pytest.fixture(scope="module")
def pager() -> Iterator[PagerDutyStandIn]:
    state, http = start_pagerduty()
    yield state
    http.shutdown()
    http.server_close()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, server: Upstream, mail: SmtpServer,
         pager: PagerDutyStandIn) -> dict[str, str]:
    env = job_env(tmp_path_factory.mktemp("threshold-home"), server, **alert_env(mail.port, pager.url))
    assert "ESG_SMTP_USER" not in env and env["ESG_SMTP_STARTTLS"] == "false"
    return env


@pytest.fixture(scope="module")
def instance(home: dict[str, str]) -> Iterator[dg.DagsterInstance]:
    # Opened before the daemon and the runs: it creates the SQLite storage they then share.
    with dg.DagsterInstance.from_config(home["DAGSTER_HOME"]) as opened:
        yield opened


@dataclass
class Daemon:
    """One `dagster-daemon run -m esg_assets` at a time on the module's home."""

    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    starts: int = 0

    def start(self) -> None:
        self.starts += 1
        with open(self.log, "a") as out:
            out.write(f"\n===== daemon start {self.starts} =====\n")
            out.flush()
            self.proc = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-m", "esg_assets"], cwd=REPO,
                                         env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.started = time.time()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop_daemon(self.proc, wait=20)
        self.proc = None

    def assert_alive(self) -> None:
        assert self.proc is not None and self.proc.poll() is None, self.log.read_text()[-3000:]


@pytest.fixture(scope="module")
def daemon(home: dict[str, str], instance: dg.DagsterInstance,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = Daemon(home, tmp_path_factory.mktemp("daemon") / "daemon.log")
    d.start()
    try:
        yield d
    finally:
        d.stop()


# ---- the three runs, launched from the command line while the daemon runs -----------------------
@dataclass
class Runs:
    days: dict[str, Day]
    failed: subprocess.CompletedProcess[str]
    records: dict[str, dg.RunRecord] = field(default_factory=dict)
    latest_check: dict[str, Any] = field(default_factory=dict)  # partition -> latest record after it

    @property
    def last_end(self) -> float:
        return max(r.end_time or 0.0 for r in self.records.values())


def only_run(instance: dg.DagsterInstance, partition: str) -> dg.RunRecord:
    [record] = instance.get_run_records(filters=dg.RunsFilter(tags={"dagster/partition": partition}))
    return record


def evaluations(instance: dg.DagsterInstance, run_id: str) -> list[Any]:
    """The run's 5 % check evaluations of `esg_ratings` (whatever the check is called): every check
    on it but contract 1.1's carry-forward check, which the contract names."""
    found = [e.dagster_event.event_specific_data for e in instance.all_logs(run_id, of_type=E.ASSET_CHECK_EVALUATION)
             if e.dagster_event]
    return [ev for ev in found if ev.asset_key == RATINGS and ev.check_name != "carried_rows_match_api"]


def latest_record(instance: dg.DagsterInstance, run_id: str) -> Any:
    [ev] = evaluations(instance, run_id)
    return instance.get_latest_asset_check_evaluation_record(dg.AssetCheckKey(RATINGS, ev.check_name))


@pytest.fixture(scope="module")
def runs(daemon: Daemon, server: Upstream, home: dict[str, str], instance: dg.DagsterInstance,
         tmp_path_factory: pytest.TempPathFactory) -> Runs:
    days: dict[str, Day] = {}
    latest: dict[str, Any] = {}
    for partition, world in ((P5, WORLD5), (P6, WORLD6)):
        server.set_world(world)
        days[partition] = Day(server, home, partition, tmp_path_factory.mktemp(f"out-{partition}"))
        # The latest record of the check moves with every run: read it right after this one.
        latest[partition] = latest_record(instance, only_run(instance, partition).dagster_run.run_id)
    refused = World(accounts=WORLD5.accounts, analyses=WORLD5.analyses, token_status=401)
    server.set_world(refused)
    failed = materialize(home, PF)
    daemon.assert_alive()
    records = {p: only_run(instance, p) for p in (P5, P6, PF)}
    # Launched from the command line: no code-location origin (§8: the sensors must still see them).
    assert all(r.dagster_run.remote_job_origin is None for r in records.values())
    return Runs(days, failed, records, latest)


# ---- what reached the channels --------------------------------------------------------------------
@dataclass(frozen=True)
class Sent:
    mails: list[Any]
    events: list[dict[str, Any]]

    def mail_keys(self) -> Counter[tuple[str, str]]:
        keys: Counter[tuple[str, str]] = Counter()
        for m in self.mails:
            match = SUBJECT.fullmatch(str(m.message["Subject"]))
            keys[(match.group(2), match.group(1)) if match else ("?", str(m.message["Subject"]))] += 1
        return keys

    def event_keys(self) -> Counter[tuple[str, str]]:
        keys: Counter[tuple[str, str]] = Counter()
        for e in self.events:
            parts = str(e.get("dedup_key")).split("/")
            keys[(parts[1], parts[2]) if len(parts) == 3 and parts[0] == "esg-ratings" else ("?", str(parts))] += 1
        return keys


def snapshot(mail: SmtpServer, pager: PagerDutyStandIn) -> Sent:
    return Sent(list(mail.sink.messages), list(pager.events))


def sensors_looked_after(instance: dg.DagsterInstance, moment: float) -> bool:
    """Every sensor of the code location has finished an evaluation that began after `moment`."""
    states = instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
    if not states:
        return False
    for state in states:
        tick = last_tick(instance, state.instigator_name)
        if tick is None or tick.timestamp <= moment or tick.status not in DONE_TICK:
            return False
    return True


def wait_for(condition: Callable[[], bool], daemon: Daemon, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        daemon.assert_alive()
        if condition():
            time.sleep(1.5)  # a late extra message would show in the assertions after this
            return
        time.sleep(0.5)
    raise AssertionError(f"not within {timeout:.0f} s: {what}\n{daemon.log.read_text()[-3000:]}")


EXPECTED = {(P6, "failure_threshold"), (PF, "run_failed")}


@pytest.fixture(scope="module")
def delivered(runs: Runs, daemon: Daemon, instance: dg.DagsterInstance, mail: SmtpServer,
              pager: PagerDutyStandIn) -> Sent:
    def done() -> bool:
        sent = snapshot(mail, pager)
        return (all(sent.mail_keys()[k] and sent.event_keys()[k] for k in EXPECTED)
                and sensors_looked_after(instance, runs.last_end))

    wait_for(done, daemon, 75, f"{sorted(EXPECTED)} on both channels and every sensor ticked after the runs")
    sent = snapshot(mail, pager)
    print(f"delivered {time.time() - runs.last_end:.1f} s after the last run ended: "
          f"mails {dict(sent.mail_keys())}, events {dict(sent.event_keys())}")
    return sent


@pytest.fixture(scope="module")
def after_restart(delivered: Sent, daemon: Daemon, instance: dg.DagsterInstance, mail: SmtpServer,
                  pager: PagerDutyStandIn) -> Sent:
    daemon.stop()
    daemon.start()
    restarted = daemon.started
    wait_for(lambda: sensors_looked_after(instance, restarted), daemon, 60, "every sensor ticked after the restart")
    return snapshot(mail, pager)


def today_missed_start() -> set[tuple[str, str]]:
    """Today's, and yesterday's in case the module ran across midnight in Chicago."""
    today = datetime.now(ZoneInfo("America/Chicago")).date()
    return {(day.isoformat(), "missed_start") for day in (today, today - timedelta(days=1))}


# ---- §4 through the command line ------------------------------------------------------------------
def test_exactly_5_percent_passes_the_check_and_writes_every_file(runs: Runs, instance: dg.DagsterInstance) -> None:
    day, record = runs.days[P5], runs.records[P5]
    assert record.dagster_run.status == dg.DagsterRunStatus.SUCCESS
    [ev] = evaluations(instance, record.dagster_run.run_id)
    assert ev.passed is True and ev.partition == P5
    latest = runs.latest_check[P5]
    assert latest is not None and latest.run_id == record.dagster_run.run_id and latest.partition == P5
    assert latest.status == AssetCheckExecutionRecordStatus.SUCCEEDED
    s = day.summary
    assert (s["accounts_called"], s["carried_forward"], s["total_accounts"]) == (20, 0, 20)
    assert s["status_counts"] == {"Successful": 19, "Partial": 0, "Failed": 1}
    assert s["call_failure_rate"] == 0.05 and s["failed_accounts"] == ["T5-07"]
    assert day.files["ratings"] == CSV5
    assert [r[:4] for r in rows(day.files["errors"])[1:]] == [["T5-07", "1", "not_found", "404"]]


def test_6_percent_fails_the_check_with_error_and_the_run_still_writes_every_file(
        runs: Runs, instance: dg.DagsterInstance) -> None:
    day, record = runs.days[P6], runs.records[P6]
    assert record.dagster_run.status == dg.DagsterRunStatus.SUCCESS  # and the CLI exited 0 (Day)
    [ev] = evaluations(instance, record.dagster_run.run_id)
    assert ev.passed is False and ev.partition == P6
    assert ev.severity == dg.AssetCheckSeverity.ERROR
    latest = runs.latest_check[P6]
    assert latest is not None and latest.run_id == record.dagster_run.run_id and latest.partition == P6
    assert latest.status == AssetCheckExecutionRecordStatus.FAILED
    s = day.summary
    assert (s["accounts_called"], s["carried_forward"], s["total_accounts"]) == (50, 0, 50)
    assert s["status_counts"] == {"Successful": 47, "Partial": 0, "Failed": 3}
    assert s["call_failure_rate"] == 0.06 and s["failed_accounts"] == ["T6-05", "T6-23", "T6-41"]
    assert day.files["ratings"] == CSV6
    assert [r[0] for r in rows(day.files["errors"])[1:]] == ["T6-05", "T6-23", "T6-41"]


# ---- §8 with a real daemon ----------------------------------------------------------------------------
def test_nothing_but_the_expected_alerts_reached_the_channels(delivered: Sent) -> None:
    allowed = EXPECTED | today_missed_start()
    for keys in (delivered.mail_keys(), delivered.event_keys()):
        assert set(keys) <= allowed, keys
        assert all(keys[k] == 1 for k in EXPECTED), keys
        assert not [k for k in keys if k[0] == P5], keys  # exactly 5 %: nothing sent


def test_failure_threshold_email_once_to_both_recipients(delivered: Sent) -> None:
    [m] = [m for m in delivered.mails if str(m.message["Subject"]).startswith(f"[ESG Ratings] failure_threshold {P6}:")]
    subject = str(m.message["Subject"])
    match = SUBJECT.fullmatch(subject)
    assert match and match.groups()[:2] == ("failure_threshold", P6), subject
    assert match.group(3).strip() == match.group(3), subject
    assert sorted(m.rcpt_tos) == sorted(RECIPIENTS)
    assert sorted(a for _, a in getaddresses([str(m.message["To"])])) == sorted(RECIPIENTS)
    assert parseaddr(str(m.message["From"]))[1] == SENDER


def assert_event(event: dict[str, Any], partition: str, kind: str, severity: str) -> None:
    assert (event.get("_content_type") or "").startswith("application/json"), event.get("_content_type")
    assert event["routing_key"] == ROUTING_KEY
    assert event["event_action"] == "trigger"
    assert event["dedup_key"] == f"esg-ratings/{partition}/{kind}"
    p = event["payload"]
    assert isinstance(p["summary"], str) and p["summary"].strip()
    assert p["source"] == "esg-ratings"
    assert p["severity"] == severity
    assert isinstance(p["timestamp"], str) and RFC3339_UTC.fullmatch(p["timestamp"]), p["timestamp"]
    assert isinstance(p["component"], str) and p["component"].strip()
    assert p["class"] == kind
    assert isinstance(p["custom_details"], dict)


def test_failure_threshold_pagerduty_event_once(delivered: Sent) -> None:
    [event] = [e for e in delivered.events if e.get("dedup_key") == f"esg-ratings/{P6}/failure_threshold"]
    assert_event(event, P6, "failure_threshold", "error")


def test_run_failed_once_on_each_channel_critical(runs: Runs, delivered: Sent) -> None:
    assert runs.failed.returncode != 0
    assert runs.records[PF].dagster_run.status == dg.DagsterRunStatus.FAILURE
    [m] = [m for m in delivered.mails if str(m.message["Subject"]).startswith(f"[ESG Ratings] run_failed {PF}:")]
    assert SUBJECT.fullmatch(str(m.message["Subject"])), m.message["Subject"]
    assert sorted(m.rcpt_tos) == sorted(RECIPIENTS)
    assert parseaddr(str(m.message["From"]))[1] == SENDER
    [event] = [e for e in delivered.events if e.get("dedup_key") == f"esg-ratings/{PF}/run_failed"]
    assert_event(event, PF, "run_failed", "critical")


def test_a_restarted_daemon_sends_nothing_again(delivered: Sent, after_restart: Sent) -> None:
    assert after_restart.mail_keys() == delivered.mail_keys()
    assert after_restart.event_keys() == delivered.event_keys()
    assert len(after_restart.mails) == len(delivered.mails) and len(after_restart.events) == len(delivered.events)
