"""Conformance of the 5 % rule (output-and-behaviour.md §4) and of the alerts (§8), seen from
outside: the job runs with `dagster asset materialize` (harness.py) against the independent
upstream server (upstream.py), on a fresh DAGSTER_HOME holding the repository's dagster.yaml; a
real `dagster-daemon run` evaluates the sensors on that home; a real SMTP server (aiosmtpd) and a
PagerDuty stand-in (esg_assets_tests/support/alerting.py) receive what it sends. The scenario's worlds and
observers are in threshold_scenario.py.

Three partitions, run one after the other while the daemon runs:
- P5: 20 accounts called, 1 Failed, call_failure_rate exactly 0.05: the check on `esg_ratings`
  passes, every file is written, nothing is sent;
- P6: 50 accounts called, 3 Failed, 0.06: the check fails (severity ERROR), the run still
  succeeds and writes every file, and `failure_threshold` goes out once by e-mail and once to
  PagerDuty (severity "error");
- PF: the token endpoint answers 401, the run fails: `run_failed` goes out once on each channel
  (severity "critical"); one token request, nothing written, no secret shown (the no-token case of
  test_critical_failures.py, checked on this run rather than on a run of its own).
Then the daemon is restarted: nothing is sent again. The daemon's own `missed_start` for today
(no run of today's partition) may arrive too; it is the only other alert allowed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from email.utils import getaddresses, parseaddr
from typing import Any

import dagster as dg
import pytest
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from esg_assets_tests.support.alerting import (
    RECIPIENTS, SENDER, PagerDutyStandIn, SmtpServer, alert_env, free_port, start_pagerduty, start_smtp,
)
from esg_assets_tests.conformance.harness import Day, assert_no_output, job_env, materialize, rows
from esg_assets_tests.conformance.threshold_scenario import (
    CSV5, CSV6, EXPECTED, P5, P6, PF, SUBJECT, WORLD5, WORLD6, Daemon, Runs, Sent, assert_event, evaluations,
    latest_record, only_run, sensors_looked_after, snapshot, today_missed_start, wait_for,
)
from esg_assets_tests.conformance.upstream import CLIENT_SECRET, Upstream, World

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


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


@pytest.fixture(scope="module")
def daemon(home: dict[str, str], instance: dg.DagsterInstance,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = Daemon(home, tmp_path_factory.mktemp("daemon") / "daemon.log")
    d.start()
    try:
        yield d
    finally:
        d.stop()


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
    first = len(server.entries())
    failed = materialize(home, PF)
    failed_log = server.entries(since=first)
    daemon.assert_alive()
    records = {p: only_run(instance, p) for p in (P5, P6, PF)}
    # Launched from the command line: no code-location origin (§8: the sensors must still see them).
    assert all(r.dagster_run.remote_job_origin is None for r in records.values())
    return Runs(days, failed, records, latest, failed_log)


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


def test_no_token_fails_the_run_and_writes_nothing(runs: Runs, home: dict[str, str], tmp_path: Path) -> None:
    # The token endpoint answers 401: not retried, the run fails, nothing is written.
    assert runs.failed.returncode != 0
    assert [e.kind for e in runs.failed_log] == ["token"]
    assert_no_output(home, PF, tmp_path / "out")
    assert CLIENT_SECRET not in runs.failed.stdout + runs.failed.stderr


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
