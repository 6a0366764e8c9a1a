"""End to end with the real code location and a real `dagster-daemon`: the job runs through
`dagster asset materialize` against the sandbox; the daemon's sensors deliver `failure_threshold`
(more than 5 % of calls Failed, while the run itself succeeds), `run_failed` (a critical error)
and, after 05:15 Chicago, `missed_start` for today — each exactly once on both channels, also
after the daemon is restarted (every alert sensor has evaluated again on the new daemon)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from esg_assets.sensors import ALL_SENSORS
from esg_assets_tests.operations.daemon import sensors_evaluated_since
from esg_assets_tests.support.alerting import stop_daemon

from esg_assets_tests.support.job import ALL_ASSETS, REPO, clean_environ, fast_job_env
from esg_assets_tests.sandbox.harness import SandboxProcess

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
BIN = Path(sys.executable).parent
THRESHOLD_DAY, FAILED_DAY = "2026-11-18", "2026-11-19"


def materialize(env: dict[str, str], day: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "dagster"), "asset", "materialize", "-m", "esg_assets", "--select", ALL_ASSETS,
                           "--partition", day], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def run_daemon_until(env: dict[str, str], done, timeout: float = 120) -> bool:
    """Run a daemon until `done()` or `timeout`; whether `done()` held when it stopped."""
    daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-m", "esg_assets"], cwd=REPO, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not done():
            assert daemon.poll() is None, "the daemon died"
            time.sleep(1)
        return bool(done())
    finally:
        stop_daemon(daemon, wait=30)


def test_alerts_of_real_runs_reach_both_channels_exactly_once(tmp_path, smtp_server, pagerduty) -> None:
    with SandboxProcess(accounts=10, seed=29, today=THRESHOLD_DAY) as sb:
        env = clean_environ(**fast_job_env(tmp_path / "home", sb.env()), **{
            "ESG_ALERT_EMAIL_TO": "dev-team@example.com,esg-stakeholders@example.com",
            "ESG_SMTP_HOST": "127.0.0.1", "ESG_SMTP_PORT": str(smtp_server.port), "ESG_SMTP_STARTTLS": "false",
            "ESG_ALERT_EMAIL_FROM": "esg-alerts@example.com",
            "ESG_PAGERDUTY_ROUTING_KEY": "e2e-routing-key-fedcba9876543210",
            "ESG_PAGERDUTY_EVENTS_URL": pagerduty.url,
        })
        sb.script({"ACC-0000004": ["404"]})  # 1 of 10 called accounts Failed: 10 % > 5 %
        assert materialize(env, THRESHOLD_DAY).returncode == 0
        bad = dict(env, ESG_CLIENT_SECRET="not-the-secret")
        assert materialize(bad, FAILED_DAY).returncode != 0

    expected = {(THRESHOLD_DAY, "failure_threshold"), (FAILED_DAY, "run_failed")}
    now = datetime.now(ZoneInfo("America/Chicago"))
    if now.time() >= clock(5, 16):
        expected.add((now.date().isoformat(), "missed_start"))

    def delivered() -> tuple[Counter, Counter]:
        mails = Counter()
        for m in smtp_server.sink.messages:
            # "[ESG Ratings] <kind> <partition>: <summary>"
            kind, day = m.message["Subject"].split(" ")[2:4]
            mails[(day.rstrip(":"), kind)] += 1
        pages = Counter()
        for e in pagerduty.events:
            _esg, day, kind = e["dedup_key"].split("/")
            pages[(day, kind)] += 1
        return mails, pages

    def all_there() -> bool:
        mails, pages = delivered()
        return all(mails[k] and pages[k] for k in expected)

    run_daemon_until(env, all_there)
    assert all_there(), delivered()
    # A restarted daemon sends nothing again, once each of its sensors has really evaluated (a
    # sensor's next tick comes 30 s after its last one, so this is a wait on the daemon, not on
    # a fixed sleep).
    before = delivered()
    sensors = {s.name for s in ALL_SENSORS}
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        restarted = time.time()
        evaluated = run_daemon_until(env, lambda: sensors_evaluated_since(instance, restarted) >= sensors)
        assert evaluated, f"sensors evaluated on the restarted daemon: {sensors_evaluated_since(instance, restarted)}"
    assert delivered() == before
    mails, pages = before
    for key in expected:
        assert mails[key] == 1 and pages[key] == 1, key
    threshold = next(e for e in pagerduty.events if e["dedup_key"] == f"esg-ratings/{THRESHOLD_DAY}/failure_threshold")
    assert threshold["payload"]["severity"] == "error" and threshold["payload"]["class"] == "failure_threshold"
    failed = next(e for e in pagerduty.events if e["dedup_key"] == f"esg-ratings/{FAILED_DAY}/run_failed")
    assert failed["payload"]["severity"] == "critical"
    assert "not-the-secret" not in str(pagerduty.events) + "".join(m.message.as_string() for m in smtp_server.sink.messages)
