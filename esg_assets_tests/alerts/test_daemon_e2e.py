"""End to end with a real `dagster-daemon`: a failing run launched with
`dagster asset materialize` (no code-location origin, the case a plain run-failure sensor misses)
produces the `run_failed` alert on both channels within a bounded time, sent by the project's
sensors evaluated by the daemon; the daemon stops on SIGTERM.

This module is also the daemon's code location (`-m esg_assets_tests.alerts.test_daemon_e2e`):
a failing `active_accounts` asset and the real `ALL_SENSORS`."""

import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from esg_assets_tests.support.alerting import stop_daemon

from esg_assets.sensors import ALL_SENSORS

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PARTITION = "2026-11-20"
daily = dg.DailyPartitionsDefinition(start_date="2025-01-01", timezone="America/Chicago", end_offset=1)


@dg.asset(name="active_accounts", partitions_def=daily)
def failing_active_accounts() -> None:
    raise RuntimeError("AMS unreachable (end-to-end test)")


defs = dg.Definitions(assets=[failing_active_accounts], sensors=ALL_SENSORS)


def _env(home: Path, smtp_port: int, pagerduty_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESG_")}
    env.update({
        "DAGSTER_HOME": str(home), "PYTHONPATH": str(REPO),
        "ESG_ALERT_EMAIL_TO": "dev-team@example.com,esg-stakeholders@example.com",
        "ESG_SMTP_HOST": "127.0.0.1", "ESG_SMTP_PORT": str(smtp_port), "ESG_SMTP_STARTTLS": "false",
        "ESG_ALERT_EMAIL_FROM": "esg-alerts@example.com",
        "ESG_PAGERDUTY_ROUTING_KEY": "e2e-routing-key-0123456789abcdef", "ESG_PAGERDUTY_EVENTS_URL": pagerduty_url,
    })
    return env


def test_daemon_sends_run_failed_for_a_cli_run(tmp_path: Path, smtp_server, pagerduty) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = _env(home, smtp_server.port, pagerduty.url)
    module = __name__ if __name__ != "__main__" else "esg_assets_tests.alerts.test_daemon_e2e"

    materialize = subprocess.run(
        [str(BIN / "dagster"), "asset", "materialize", "-m", module, "--select", "active_accounts",
         "--partition", PARTITION],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )
    assert materialize.returncode != 0  # the run failed, as intended

    daemon = subprocess.Popen(
        [str(BIN / "dagster-daemon"), "run", "-m", module], cwd=REPO, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    # Today's partition has no run either, so `missed_start` may arrive too: look for ours.
    def mails() -> list:
        return [m for m in smtp_server.sink.messages if " run_failed " in m.message["Subject"]]

    def events() -> list:
        return [e for e in pagerduty.events if e["dedup_key"].endswith("/run_failed")]

    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not (mails() and events()):
            assert daemon.poll() is None, daemon.stderr.read()[-2000:] if daemon.stderr else "daemon died"
            time.sleep(1)
        assert mails() and events(), "no run_failed alert within 90 s"
    finally:
        stop_daemon(daemon, wait=20)
    assert daemon.returncode is not None

    [mail] = mails()
    assert mail.message["Subject"].startswith(f"[ESG Ratings] run_failed {PARTITION}: run ")
    assert mail.rcpt_tos == ["dev-team@example.com", "esg-stakeholders@example.com"]
    [event] = events()
    assert event["dedup_key"] == f"esg-ratings/{PARTITION}/run_failed"
    assert event["payload"]["custom_details"]["error"] == "RuntimeError: AMS unreachable (end-to-end test)"
    assert (home / "esg_alerts.sqlite").exists()
