"""The four benchmark scenarios (docs/benchmarks.md): B1 rate-bound, B2 day two, B3 overhead,
B4 the naive baseline. Each returns a flat dict of figures for the table and the JSON file."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests

from bench.infra import RunResult, Sandbox, job_env, materialize
from bench.measure import mb


@dataclass(frozen=True)
class Knobs:
    accounts: int = 100_000
    big_accounts: int = 1_000_000
    rate: int = 1000
    concurrency: int = 32
    latency_ms: float = 20
    naive_sample: int = 500
    skip_1m: bool = False
    seed: int = 7
    job_env: tuple[tuple[str, str], ...] = ()  # extra ESG_* variables of the job (--job-env)


def partitions() -> tuple[str, str]:
    """(D, D+1): yesterday and today in America/Chicago, so both partitions exist already."""
    today = datetime.now(ZoneInfo("America/Chicago")).date()
    return (today - timedelta(days=1)).isoformat(), today.isoformat()


def _run_figures(run: RunResult, accounts: int) -> dict[str, Any]:
    step = run.steps.get("esg_ratings", {})
    cpu = step.get("cpu", float("nan"))
    return {
        "exit_code": run.exit_code,
        "run_wall_s": round(run.wall_seconds, 2),
        "run_cpu_s": round(run.cpu_seconds, 2),
        "step_wall_s": {k: round(v["wall"], 2) for k, v in run.steps.items()},
        "esg_ratings_wall_s": round(step.get("wall", float("nan")), 2),
        "esg_ratings_cpu_s": round(cpu, 2),
        "peak_rss_mb": mb(run.peak_rss),
        "peak_rss_hwm_sum_mb": mb(run.peak_hwm_sum),
        "accounts": accounts,
        **_per_called(run),
        "phases_wall_s": {k: round(v["wall"], 2) for k, v in run.phases.items()},
        "phases_cpu_s": {k: round(v["cpu"], 2) for k, v in run.phases.items()},
        "phases_peak_rss_mb": {k: mb(v["peak_rss"]) for k, v in run.phases.items()},
        "phases_unaccounted_s": round(run.wall_seconds - sum(v["wall"] for v in run.phases.values()), 2),
    }


def _per_called(run: RunResult) -> dict[str, Any]:
    """CPU per called account (ms): the whole job process tree, and the calls phase alone."""
    called = int(run.summary.get("accounts_called") or 0)
    if not called:
        return {}
    calls_cpu = run.phases.get("calls", {}).get("cpu", float("nan"))
    return {"cpu_ms_per_called_account_run": round(1000 * run.cpu_seconds / called, 3),
            "cpu_ms_per_called_account_calls": round(1000 * calls_cpu / called, 3)}


def _check(run: RunResult, what: str) -> None:
    if run.exit_code != 0:
        raise RuntimeError(f"{what}: the run failed (exit {run.exit_code}); see its log under the bench work dir")


def _b1_figures(run: RunResult, sb: Sandbox, k: Knobs, accounts: int) -> dict[str, Any]:
    """One full day at R: the whole run and the step against N/R, and what the sandbox saw."""
    stats = sb.stats()
    step = run.step_wall("esg_ratings")
    requests_sent = int(run.summary["api"]["requests"])
    ideal = accounts / k.rate
    return {
        **_run_figures(run, accounts),
        "rate_limit": k.rate,
        "concurrency": k.concurrency,
        "latency_ms": k.latency_ms,
        "ideal_s": ideal,
        "ratio_ideal_over_actual": round(ideal / step, 4),
        "whole_run_ratio_ideal_over_wall": round(ideal / run.wall_seconds, 4),
        "calls_phase_ratio": round(ideal / run.phases["calls"]["wall"], 4) if "calls" in run.phases else None,
        "requests": requests_sent,
        "requests_per_s": round(requests_sent / step, 1),
        "rate_limited_429": int(stats["by_status"].get("429", 0)),
        "sandbox_max_per_1s_window": int(stats["esg_max_per_second"]),
        "sandbox_max_in_flight": int(stats["esg_max_in_flight"]),
        "status_counts": run.summary["status_counts"],
        **_calls_breakdown(run, stats, k.rate),
    }


def _calls_breakdown(run: RunResult, stats: dict[str, Any], rate: float) -> dict[str, Any]:
    """Where the calls phase (`ratings_plan` to `ratings_done`) goes beyond the calls at R: before
    the first analysis request reaches the sandbox (head), between the first and the last (body:
    its requests against R), and after the last (tail: the last answers, the final commit, the
    carry check and the day's counts)."""
    calls, first, last = run.phases.get("calls"), stats.get("analysis_first_wall"), stats.get("analysis_last_wall")
    if not calls or first is None or last is None or last <= first:
        return {}
    body = last - first
    analyses = int(stats["by_kind"].get("analysis", 0))
    return {"calls_head_s": round(first - calls["from"], 3), "calls_body_s": round(body, 3),
            "calls_body_ratio": round((analyses - 1) / (body * rate), 4),
            "calls_tail_s": round(calls["to"] - last, 3)}


def _b1_sandbox(work: Path, k: Knobs, accounts: int, day: str) -> Sandbox:
    return Sandbox(work, accounts=accounts, seed=k.seed, today=day, latency_ms=k.latency_ms,
                   rate_limit=round(k.rate * 1.05))


def _b1_env(work: Path, k: Knobs, sb: Sandbox, name: str) -> dict[str, str]:
    return job_env(work / name, sb, ESG_API_RATE_LIMIT_PER_SECOND=str(k.rate),
                   ESG_API_MAX_CONCURRENCY=str(k.concurrency), **dict(k.job_env))


def b1_b2(work: Path, k: Knobs, with_b2: bool) -> dict[str, dict[str, Any]]:
    """B1: one full day at R with 20 ms latency (and at `big_accounts` unless `skip_1m`); B2:
    the next day with ~2 % of accounts changed."""
    d1, d2 = partitions()
    out: dict[str, dict[str, Any]] = {}
    with _b1_sandbox(work, k, k.accounts, d1) as sb:
        env = _b1_env(work, k, sb, "home-b1")
        run = materialize(env, d1, work / "job-b1.log")
        _check(run, "B1")
        out["B1"] = _b1_figures(run, sb, k, k.accounts)
        if with_b2:
            sb.clear()
            reply = sb.admin("POST", "advance", {"days": 1, "random_changes": {"esg_fraction": 0.01, "ams_fraction": 0.01}})
            changed = _changed_ids(reply)
            run2 = materialize(env, d2, work / "job-b2.log")
            _check(run2, "B2")
            called = sb.called_accounts()
            out["B2"] = {
                **_run_figures(run2, k.accounts),
                "changed_accounts": len(changed),
                "accounts_called": int(run2.summary["accounts_called"]),
                "carried_forward": int(run2.summary["carried_forward"]),
                "analysis_requests": len(called),
                "called_equals_changed": set(called) == changed and len(called) == len(changed),
                "esg_requests": int(run2.summary["api"]["requests"]),
            }
    if not k.skip_1m:
        with _b1_sandbox(work, k, k.big_accounts, d1) as sb:
            run = materialize(_b1_env(work, k, sb, "home-b1-big"), d1, work / "job-b1-big.log")
            _check(run, f"B1 {k.big_accounts}")
            big = _b1_figures(run, sb, k, k.big_accounts)
            big["rss_ratio_vs_small"] = round(big["peak_rss_mb"] / out["B1"]["peak_rss_mb"], 3)
            out[f"B1_{k.big_accounts}"] = big
    return out


def _changed_ids(reply: dict[str, Any]) -> set[str]:
    """The accounts `advance` changed visibly: a new AMS `updated_at` or a changes-feed entry."""
    ids: set[str] = set()
    for key in ("ams_updated", "esg_changed"):
        value = reply.get(key) or []
        ids.update(v if isinstance(v, str) else v["account_id"] for v in value)
    return ids


def b3(work: Path, k: Knobs) -> dict[str, dict[str, Any]]:
    """B3: zero latency, no rate limit: what the job itself costs per account."""
    d1, _ = partitions()
    sizes = [k.accounts] + ([] if k.skip_1m else [k.big_accounts])
    out: dict[str, dict[str, Any]] = {}
    for n in sizes:
        with Sandbox(work, accounts=n, seed=k.seed, today=d1) as sb:
            env = job_env(work / f"home-b3-{n}", sb, ESG_API_RATE_LIMIT_PER_SECOND="100000",
                          ESG_API_MAX_CONCURRENCY=str(k.concurrency), **dict(k.job_env))
            run = materialize(env, d1, work / f"job-b3-{n}.log")
            _check(run, f"B3 {n}")
            fig = _run_figures(run, n)
            step = run.step_wall("esg_ratings")
            fig.update(
                accounts_per_s_esg_ratings=round(n / step, 1),
                accounts_per_s_run=round(n / run.wall_seconds, 1),
                cpu_s_per_1000_esg_ratings=round(1000 * fig["esg_ratings_cpu_s"] / n, 3),
                cpu_s_per_1000_run=round(1000 * run.cpu_seconds / n, 3),
                sandbox_max_in_flight=int(sb.stats()["esg_max_in_flight"]),
            )
            out[f"B3_{n}"] = fig
    if len(sizes) == 2:
        small, big = out[f"B3_{sizes[0]}"], out[f"B3_{sizes[1]}"]
        big["rss_ratio_vs_small"] = round(big["peak_rss_mb"] / small["peak_rss_mb"], 3)
    return out


def b4(work: Path, k: Knobs, b1_step_s: float | None) -> dict[str, Any]:
    """B4: what a plain sequential `requests` loop would take for the same work."""
    d1, _ = partitions()
    n = k.naive_sample
    with Sandbox(work, accounts=n, seed=k.seed, today=d1, latency_ms=k.latency_ms) as sb:
        token = requests.post(f"{sb.url}/oauth2/token", data={"grant_type": "client_credentials"},
                              auth=("sandbox-client", "sandbox-secret"), timeout=10).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        ids = [f"ACC-{i:07d}" for i in range(1, n + 1)]
        started = time.monotonic()
        for account_id in ids:  # the naive loop: one fresh connection per account, one at a time
            requests.get(f"{sb.url}/esg/v1/accounts/{account_id}/esg-analysis", headers=headers, timeout=10).json()
        naive = time.monotonic() - started
        with requests.Session() as session:  # the same loop with keep-alive, for comparison
            started = time.monotonic()
            for account_id in ids:
                session.get(f"{sb.url}/esg/v1/accounts/{account_id}/esg-analysis", headers=headers, timeout=10).json()
            keepalive = time.monotonic() - started
    per_account = naive / n
    extrapolated = per_account * k.accounts
    return {
        "sample": n,
        "latency_ms": k.latency_ms,
        "naive_per_account_ms": round(1000 * per_account, 2),
        "naive_keepalive_per_account_ms": round(1000 * keepalive / n, 2),
        "naive_extrapolated_s": round(extrapolated, 1),
        "accounts": k.accounts,
        "job_esg_ratings_s": b1_step_s,
        "speedup": round(extrapolated / b1_step_s, 1) if b1_step_s else None,
    }


def machine() -> dict[str, Any]:
    import os
    import platform

    mem = 0
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    return {"cpus": os.cpu_count(), "memory_gib": round(mem / 2**30, 1), "python": platform.python_version(),
            "date": date.today().isoformat(), "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
