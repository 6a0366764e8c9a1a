"""The scenario of test_threshold_alerts.py and how it is observed: the three partitions and
their worlds (hand-written expected CSVs), one `dagster-daemon run` at a time on the module's
home, the runs' records and 5 % check evaluations in the instance, what reached the SMTP server
and the PagerDuty stand-in, and the shape of one PagerDuty event (output-and-behaviour.md §8)."""

from __future__ import annotations

import re
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
from dagster._core.scheduler.instigation import InstigatorType, TickStatus

from esg_assets_tests.support.alerting import ROUTING_KEY, PagerDutyStandIn, SmtpServer, stop_daemon
from esg_assets_tests.operations.daemon import last_tick
from esg_assets_tests.conformance import worlds as w
from esg_assets_tests.conformance.harness import BIN, RFC3339_UTC, Day
from esg_assets_tests.conformance.upstream import Entry, Reply, World
from esg_assets_tests.support.job import REPO

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


# ---- the three runs, launched from the command line while the daemon runs -----------------------
@dataclass
class Runs:
    days: dict[str, Day]
    failed: subprocess.CompletedProcess[str]
    records: dict[str, dg.RunRecord] = field(default_factory=dict)
    latest_check: dict[str, Any] = field(default_factory=dict)  # partition -> latest record after it
    failed_log: list[Entry] = field(default_factory=list)  # the server's log of the PF run

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


def today_missed_start() -> set[tuple[str, str]]:
    """Today's, and yesterday's in case the module ran across midnight in Chicago."""
    today = datetime.now(ZoneInfo("America/Chicago")).date()
    return {(day.isoformat(), "missed_start") for day in (today, today - timedelta(days=1))}


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
