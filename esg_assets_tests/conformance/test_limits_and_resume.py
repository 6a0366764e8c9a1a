"""Conformance against an independent upstream server (upstream.py), run the way an outside
suite would (harness.py): the rate limit and in-flight ceiling hold as measured at the server; one
revocation costs one token request; a killed run resumes without re-calling committed results.
Both measure time at the server, so they run one after the other in this module. Critical
failures: test_critical_failures.py."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from esg_assets_tests.conformance import worlds as w
from esg_assets_tests.conformance.harness import BIN, Day, job_env
from esg_assets_tests.conformance.upstream import Reply, Upstream, World
from esg_assets_tests.support.job import ALL_ASSETS, REPO

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


# ---- rate limit, in-flight ceiling, one refresh per revocation -------------------------------------
def test_rate_limit_and_concurrency_seen_from_the_server(tmp_path: Path) -> None:
    ids = [f"R-{i:03d}" for i in range(100)]
    analyses = {aid: [w.ok(aid, "50", "50", "50", "50", "Social", "50")] for aid in ids}
    for aid in ids[7::15]:
        analyses[aid] = [Reply(503, "{}"), *analyses[aid]]
    world = World(accounts=[w.acct(aid, f"Rate {aid}") for aid in ids], analyses=analyses, expires_in=3600,
                  revoke_after_analysis_requests=30, latency=lambda aid: 0.6 if aid.endswith("5") else 0.01)
    with Upstream(world).running() as upstream:
        env = job_env(tmp_path / "home", upstream, ESG_API_RATE_LIMIT_PER_SECOND="20", ESG_API_MAX_CONCURRENCY="3")
        day = Day(upstream, env, w.DAY1, tmp_path / "out")
        esg = sorted(e.start for e in day.esg())
        worst = max(sum(1 for t in esg[i:] if t < start + 1.0) for i, start in enumerate(esg))
        print(f"rate: worst 1 s window {worst} requests, max in flight {upstream.max_in_flight}")
        assert worst <= 21, worst
        assert upstream.max_in_flight <= 3, upstream.max_in_flight
        unauthorized = [e for e in day.log if e.status == 401]
        assert unauthorized and all(e.kind == "analysis" for e in unauthorized)
        first_401 = min(e.start for e in unauthorized)
        # One revocation costs one token request per process ...
        assert len([e for e in day.log if e.kind == "token" and e.start >= first_401]) == 1
        s = day.summary
        assert s["status_counts"] == {"Successful": 100, "Partial": 0, "Failed": 0}
        assert s["api"]["requests"] == len(esg)
        for aid in ids:
            assert [e.status for e in day.log if e.account_id == aid][-1] == 200
        # ... and the process's one token (valid an hour) serves the AMS and the ESG API alike:
        # two token requests in all, the second one the only refresh.
        tokens = [round(e.start - day.started, 2) for e in day.log if e.kind == "token"]
        assert len(tokens) == 2, tokens
        assert s["api"]["token_refreshes"] == 1


# ---- resume after the run is killed (§6) -----------------------------------------------------------
def test_resume_after_kill_does_not_recall_committed_results(tmp_path: Path) -> None:
    ids = [f"K-{i:03d}" for i in range(90)]
    world = World(accounts=[w.acct(aid, f"Kill {aid}") for aid in ids], expires_in=3600, latency=lambda aid: 0.15,
                  analyses={aid: [w.ok(aid, "60", "60", "60", "60", "Social", "60")] for aid in ids})
    with Upstream(world).running() as upstream:
        env = job_env(tmp_path / "home", upstream, ESG_API_MAX_CONCURRENCY="2")
        cmd = [str(BIN / "dagster"), "asset", "materialize", "-m", "esg_assets", "--select", ALL_ASSETS, "--partition", w.DAY1]
        proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        deadline = time.time() + 120
        while len([e for e in upstream.entries("analysis") if e.status == 200]) < 60 and time.time() < deadline:
            assert proc.poll() is None, "the run ended before it could be killed"
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
        killed_at = time.time()
        proc.wait(30)
        first_run = upstream.entries("analysis")
        # "Results are committed as they arrive": a result answered well before the kill is kept.
        # 3 s of slack covers the kill itself and any short commit batching.
        answered_early = {e.account_id for e in first_run if e.status == 200 and e.end < killed_at - 3.0}
        never_called = set(ids) - {e.account_id for e in first_run}
        assert len(answered_early) >= 5 and never_called

        day = Day(upstream, env, w.DAY1, tmp_path / "out")
        second = set(day.per_account())
        assert not second & answered_early, sorted(second & answered_early)
        assert never_called <= second
        assert day.summary["status_counts"] == {"Successful": 90, "Partial": 0, "Failed": 0}
        assert day.files["ratings"] == w.csv_text([f"{aid},Kill {aid},60.00,60.00,60.00,60.00,Social,60.00,2026-11-20,Successful"
                                                   for aid in ids])
        recalled = second - never_called
        print(f"resume: {len(answered_early)} answered >3 s before the kill, {len(recalled)} called again")
