"""Refresh the pictures of the Dagster UI in docs/images/: `.venv/bin/python scripts/screenshots.py`.

Starts the built-in sandbox and `dagster dev` (webserver + daemon) on free loopback ports with a
throw-away DAGSTER_HOME, materializes one day through the UI's GraphQL API (the daily job, as
the Launchpad would), then has headless Chromium photograph: the asset graph with its check after
that day, the catalog entry of `esg_ratings` (its column schema), the run's materialization
metadata, and the Launchpad holding a targeted rerun's config. Uses the suite's own harness for
the sandbox and `dagster dev` (so it needs the test extras: `make install`) and Debian's
`chromium` (`scripts/test_setup.sh` installs it). Look at every picture before committing it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from esg_assets_tests.support.job import clean_environ, fast_job_env  # noqa: E402
from esg_assets_tests.sandbox.harness import SandboxProcess  # noqa: E402
from esg_assets_tests.ui.dagster_dev import DagsterDev  # noqa: E402

DAY = "2026-11-20"
RERUN_CONFIG = {"ops": {"esg_ratings": {"config": {"account_ids": ["ACC-0000002", "ACC-0000017"]}}}}
CHROMIUM = ["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", "--hide-scrollbars", "--virtual-time-budget=15000"]


def shoot(url: str, out: Path, profile: Path, size: str = "1600,1000", scale: int = 1) -> None:
    """One headless Chromium screenshot of `url`, with a fresh profile (no state between pages)."""
    done = subprocess.run([*CHROMIUM, f"--user-data-dir={profile}", f"--window-size={size}",
                           f"--force-device-scale-factor={scale}", f"--screenshot={out}", url],
                          capture_output=True, text=True, timeout=180)
    if done.returncode != 0 or not out.exists():
        raise SystemExit(f"screenshots: chromium failed on {url}: {done.stderr[-1500:]}")
    print(f"screenshots: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}", flush=True)


def launch_day(dev: DagsterDev, location: str, day: str) -> str:
    from dagster_graphql import DagsterGraphQLClient

    client = DagsterGraphQLClient("127.0.0.1", port_number=dev.port)
    run_id = client.submit_job_execution("esg_daily_job", repository_location_name=location,
                                         repository_name="__repository__", tags={"dagster/partition": day})
    dev.assert_succeeded([run_id], timeout=600)
    return str(run_id)


def launchpad_url(dev: DagsterDev, location: str, day: str) -> str:
    """The Launchpad's setup route fills a new tab with this config and tags, then shows it."""
    import yaml

    query = urllib.parse.urlencode({"config": yaml.safe_dump(RERUN_CONFIG, sort_keys=False),
                                    "tags": json.dumps([{"key": "dagster/partition", "value": day}])})
    return f"{dev.url}/locations/{location}/jobs/esg_daily_job/playground/setup?{query}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--accounts", type=int, default=40)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="esg-screenshots-") as tmp_dir:
        tmp = Path(tmp_dir)
        with SandboxProcess(accounts=args.accounts, seed=7, today=DAY, error_rate=0.03) as sb:
            env = clean_environ(**fast_job_env(tmp / "home", sb.env()))
            with DagsterDev(env, tmp / "dagster-dev.log", start_timeout=240) as dev:
                location = dev.query("{ workspaceOrError { ... on Workspace { locationEntries { name } } } }")[
                    "workspaceOrError"]["locationEntries"][0]["name"]
                dev.query("mutation { setNuxSeen }")  # the one-time pop-up would cover every page
                run_id = launch_day(dev, location, DAY)
                print(f"screenshots: materialized {DAY} in run {run_id}", flush=True)
                # The graph is drawn small to fit the window (smaller still hides each node's
                # details): twice the pixels keep its check and partition lines legible.
                pages = {
                    "ui-asset-graph.png": (f"{dev.url}/asset-groups/esg", "1600,1000", 2),
                    "ui-catalog-columns.png": (f"{dev.url}/assets/esg_ratings", "1600,1400", 1),
                    "ui-run-metadata.png": (f"{dev.url}/assets/daily_summary?view=events&partition={DAY}", "1600,1400", 1),
                    "ui-run-page.png": (f"{dev.url}/runs/{run_id}", "1600,1000", 1),
                    "ui-launchpad-rerun.png": (launchpad_url(dev, location, DAY), "1600,1000", 1),
                }
                for n, (name, (url, size, scale)) in enumerate(pages.items()):
                    shoot(url, args.out / name, tmp / f"profile-{n}", size, scale)
    return 0


if __name__ == "__main__":
    sys.exit(main())
