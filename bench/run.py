"""`make bench` / `python -m bench.run`: run the scenarios, print the figures, write
artifacts/bench.json. A benchmark, not a test: it fails only when a run itself fails.

    python -m bench.run                                  # B1-B5, B1 and B3 at 100k and 1M
    python -m bench.run --accounts 20000 --only B1,B4    # a quick, smaller version
    python -m bench.run --skip-1m                        # everything but the 1M run
    python -m bench.run --only B5 --b5-accounts 20000    # change detection replayed over 30 days
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.b5 import b5
from bench.infra import ROOT
from bench.scenarios import Knobs, b1_b2, b3, b4, machine

ALL = ("B1", "B2", "B3", "B4", "B5")


def _table(results: dict[str, Any]) -> str:
    lines = []
    for name, figures in results.items():
        if not isinstance(figures, dict):
            continue
        lines.append(f"== {name}")
        for key, value in figures.items():
            lines.append(f"   {key:32} {value}")
    return "\n".join(lines)


def _verdicts(results: dict[str, Any], k: Knobs) -> dict[str, Any]:
    """The targets of docs/benchmarks.md, each with the figure it is judged on."""
    v: dict[str, Any] = {}
    if "B1" in results:
        b = results["B1"]
        v[f"B1 whole run (N/R)/wall {b['whole_run_ratio_ideal_over_wall']} >= 0.95"] = (
            b["whole_run_ratio_ideal_over_wall"] >= 0.95)
        sustained = b["calls_phase_ratio"] or float("nan")
        v[f"B1 esg_ratings sustained (calls phase) ratio {sustained} >= 0.99"] = sustained >= 0.99
        if "calls_body_ratio" in b:
            v[f"B1 sustained at the sandbox (first to last analysis request) {b['calls_body_ratio']} >= 0.99"] = (
                b["calls_body_ratio"] >= 0.99)
        v[f"B1 max per 1 s window {b['sandbox_max_per_1s_window']} <= R"] = b["sandbox_max_per_1s_window"] <= k.rate
        v["B1 in flight <= concurrency"] = b["sandbox_max_in_flight"] <= k.concurrency
        v[f"B1 peak RSS {b['peak_rss_mb']} MB <= 300 MB"] = b["peak_rss_mb"] <= 300
    if big_b1 := results.get(f"B1_{k.big_accounts}"):
        ratio = big_b1["whole_run_ratio_ideal_over_wall"]
        v[f"B1 {k.big_accounts} whole run (N/R)/wall {ratio} >= 0.95"] = ratio >= 0.95
        sustained = big_b1["calls_phase_ratio"] or float("nan")
        v[f"B1 {k.big_accounts} sustained (calls phase) ratio {sustained} >= 0.99"] = sustained >= 0.99
        if "calls_body_ratio" in big_b1:
            v[f"B1 {k.big_accounts} sustained at the sandbox {big_b1['calls_body_ratio']} >= 0.99"] = (
                big_b1["calls_body_ratio"] >= 0.99)
        v[f"B1 {k.big_accounts} max per 1 s window {big_b1['sandbox_max_per_1s_window']} <= R"] = (
            big_b1["sandbox_max_per_1s_window"] <= k.rate)
        v[f"B1 {k.big_accounts} peak RSS {big_b1['rss_ratio_vs_small']} x {k.accounts} <= 1.2"] = (
            big_b1["rss_ratio_vs_small"] <= 1.2)
    if "B2" in results:
        v["B2 calls == changed"] = results["B2"]["called_equals_changed"]
    small, big = results.get(f"B3_{k.accounts}"), results.get(f"B3_{k.big_accounts}")
    if small:
        v["B3 accounts/s > R"] = small["accounts_per_s_esg_ratings"] > k.rate
        cpu = small.get("cpu_ms_per_called_account_run", float("nan"))
        v[f"B3 CPU per called account {cpu} ms <= 0.35 ms"] = cpu <= 0.35
        v[f"B3 peak RSS {small['peak_rss_mb']} MB <= 300 MB"] = small["peak_rss_mb"] <= 300
    if small and big:
        v[f"B3 RSS 1M {big['rss_ratio_vs_small']} x 100k <= 1.2"] = big["rss_ratio_vs_small"] <= 1.2
        v["B3 RSS 1M <= 1.5 x 100k"] = big["peak_rss_mb"] <= 1.5 * small["peak_rss_mb"]
        v["B3 RSS 1M < 500 MB"] = big["peak_rss_mb"] < 500
    if "B5" in results:
        v["B5 average calls per day <= bound"] = results["B5"]["within_bound"]
    return v


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--accounts", type=int, default=100_000, help="accounts of B1, B2 and the small B3")
    p.add_argument("--big-accounts", type=int, default=1_000_000, help="accounts of the large B1 and B3")
    p.add_argument("--rate", type=int, default=1000, help="R, the job's ESG API rate limit in B1/B2")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--latency-ms", type=float, default=20)
    p.add_argument("--naive-sample", type=int, default=500, help="accounts timed in the B4 loop")
    p.add_argument("--b5-accounts", type=int, default=100_000, help="accounts of B5 (simulated, no HTTP)")
    p.add_argument("--only", default=",".join(ALL), help="comma-separated subset of B1,B2,B3,B4,B5")
    p.add_argument("--skip-1m", action="store_true", help="B1 and B3 at --accounts only")
    p.add_argument("--job-env", action="append", default=[], metavar="ESG_NAME=VALUE",
                   help="an extra variable of the job's environment (e.g. ESG_STATE_DB_MEMORY_LIMIT=64MB); repeatable")
    p.add_argument("--out", default=str(ROOT / "artifacts" / "bench.json"))
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, state)")
    args = p.parse_args(argv)
    only = {s.strip().upper() for s in args.only.split(",") if s.strip()}
    if unknown := only - set(ALL):
        p.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    extra = tuple(tuple(item.split("=", 1)) for item in args.job_env)
    if any(len(pair) != 2 or not pair[0].startswith("ESG_") for pair in extra):
        p.error("--job-env takes ESG_NAME=VALUE")
    k = Knobs(accounts=args.accounts, big_accounts=args.big_accounts, rate=args.rate, concurrency=args.concurrency,
              latency_ms=args.latency_ms, naive_sample=args.naive_sample, skip_1m=args.skip_1m,
              job_env=extra)  # type: ignore[arg-type]

    results: dict[str, Any] = {"machine": machine(), "knobs": vars(args)}
    work = Path(tempfile.mkdtemp(prefix="esg-bench-"))
    print(f"bench: work directory {work}", flush=True)
    started = time.monotonic()
    try:
        if only & {"B1", "B2"}:
            results.update(b1_b2(work, k, with_b2="B2" in only))
            print(_table({k_: v for k_, v in results.items() if k_.startswith(("B1", "B2"))}), flush=True)
        if "B3" in only:
            results.update(b3(work, k))
            print(_table({k_: v for k_, v in results.items() if k_.startswith("B3")}), flush=True)
        if "B4" in only:
            b1_step = results.get("B1", {}).get("esg_ratings_wall_s")
            results["B4"] = b4(work, k, b1_step)
            print(_table({"B4": results["B4"]}), flush=True)
        if "B5" in only:
            results["B5"] = b5(args.b5_accounts)
            print(_table({"B5": results["B5"]}), flush=True)
    finally:
        results["bench_seconds"] = round(time.monotonic() - started, 1)
        # The machine may be shared: a load above the core count makes every figure pessimistic.
        results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        results["targets"] = _verdicts(results, k)
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2, default=str) + "\n")
        if not args.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    print(_table({"targets": results["targets"]}))
    print(f"bench: load average {results['machine']['load_average_at_start']} at start, "
          f"{results['load_average_at_end']} at end, on {results['machine']['cpus']} cores")
    print(f"bench: figures written to {out} ({results['bench_seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
