"""Resolution (output-and-behaviour.md §8, contract 1.1): a day with alerts sent that later
completes (all four assets materialized by a successful run) with the condition gone gets one
PagerDuty `resolve` per kind and one "resolved" e-mail, at most once per channel, also after a
restart (a fresh ledger object, no cursor). Real runs of the real job against the sandbox, real
SMTP (aiosmtpd) and a PagerDuty stand-in on loopback."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from esg_assets import sensors as s
from esg_assets.alerts import AlertLedger, build_channels
from esg_assets_tests.support.alerting import FAST, ROUTING_KEY
from esg_assets_tests.support.chain import PLAN_ONLY
from esg_assets_tests.support.job import fast_job_env, run_day
from esg_assets_tests.sandbox.harness import SandboxProcess

pytestmark = pytest.mark.integration
FAILED_DAY, THRESHOLD_DAY = "2026-11-18", "2026-11-19"


def evaluate(fn, instance: dg.DagsterInstance, ledger_path: Path, channels) -> s.Evaluation:
    return fn(instance, datetime.now(UTC), AlertLedger(ledger_path), channels, cursor=None, policy=FAST)


def resolves(pagerduty) -> list[dict]:
    return [e for e in pagerduty.events if e.get("event_action") == "resolve"]


def resolved_mails(smtp_server) -> list[str]:
    return [m.message["Subject"] for m in smtp_server.sink.messages if " resolved " in m.message["Subject"]]


def test_a_recovered_day_is_resolved_once_per_channel(tmp_path, apply_env, settings, ledger_path,
                                                      smtp_server, pagerduty) -> None:
    channels = build_channels(settings)
    home = tmp_path / "home"
    with SandboxProcess(accounts=10, seed=71, today=THRESHOLD_DAY) as sb:
        env = fast_job_env(home, sb.env())
        with dg.instance_for_test(temp_dir=str(home)) as instance:
            # FAILED_DAY: the run fails (no token); THRESHOLD_DAY: 1 of 10 calls Failed (> 5 %).
            apply_env({**env, "ESG_CLIENT_SECRET": "not-the-secret"})
            assert not run_day(FAILED_DAY, instance).success
            apply_env(env)
            sb.script({"ACC-0000004": ["404"]})
            # The alert needs only esg_ratings and its check; the day completes in the runs below.
            assert run_day(THRESHOLD_DAY, instance, assets=PLAN_ONLY).success
            evaluate(s.evaluate_run_failed, instance, ledger_path, channels)
            evaluate(s.evaluate_failure_threshold, instance, ledger_path, channels)
            assert len(pagerduty.events) == 2 and len(smtp_server.sink.messages) == 2
            # Nothing has recovered yet: no resolution.
            assert evaluate(s.evaluate_resolution, instance, ledger_path, channels).alerts == []

            # The threshold day is run again but still fails 10 %: not resolved.
            assert run_day(THRESHOLD_DAY, instance).success
            assert evaluate(s.evaluate_resolution, instance, ledger_path, channels).alerts == []

            # Both days recover: a successful rerun of each, every call answered.
            sb.clear_scripts()
            assert run_day(FAILED_DAY, instance).success
            assert run_day(THRESHOLD_DAY, instance).success
            first = evaluate(s.evaluate_resolution, instance, ledger_path, channels)
            again = evaluate(s.evaluate_resolution, instance, ledger_path, channels)  # a restarted daemon
    assert sorted(a.partition for a in first.alerts) == [FAILED_DAY, THRESHOLD_DAY]
    assert again.alerts == [] and again.report.sent == []
    assert sorted(resolved_mails(smtp_server)) == [f"[ESG Ratings] resolved {FAILED_DAY}: run_failed",
                                                   f"[ESG Ratings] resolved {THRESHOLD_DAY}: failure_threshold"]
    assert sorted(resolves(pagerduty), key=lambda e: e["dedup_key"]) == [
        {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": f"esg-ratings/{day}/{kind}",
         "_content_type": "application/json"}
        for day, kind in ((FAILED_DAY, "run_failed"), (THRESHOLD_DAY, "failure_threshold"))]
    ledger = AlertLedger(ledger_path)
    assert ledger.status(FAILED_DAY, "resolved") == {"email": "sent", "pagerduty": "sent"}
