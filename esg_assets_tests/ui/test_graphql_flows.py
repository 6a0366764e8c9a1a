"""The design card's UI flows against a real `dagster dev` (webserver + daemon) on loopback,
through GraphQL: one partition, a multi-partition backfill, a targeted rerun with run config,
the schedule and sensors listed and running; then a headless Chromium renders the UI.

The backfill is launched as soon as the UI is up (the module's fixture) and waited for in its own
test: its days are 30 s backfill-daemon passes apart, and the other flows' runs take their turns
in the one queue meanwhile (the state database's pool runs one at a time), as on a real day."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from dagster_graphql import DagsterGraphQLClient

from esg_assets_tests.support.job import clean_environ, fast_job_env
from esg_assets_tests.sandbox.harness import SandboxProcess
from esg_assets_tests.ui.dagster_dev import DagsterDev

pytestmark = pytest.mark.e2e
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
ASSETS = ["active_accounts", "esg_ratings", "ratings_csv", "daily_summary"]
ONE_DAY = "2026-11-10"
# Two days are the fewest that show a multi-partition backfill: esg_ratings depends on its
# previous day, so the asset-backfill daemon launches the second run only on a later pass, and
# each pass is 30 s apart (a constant of dagster 1.13.27's backfill loop, no setting shortens it).
BACKFILL_DAYS = ["2026-11-14", "2026-11-15"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ui")
    with SandboxProcess(accounts=15, seed=23, today="2026-11-15") as sb:
        env = clean_environ(**fast_job_env(tmp / "home", sb.env()))
        with DagsterDev(env, tmp / "dagster-dev.log") as dev:
            data = dev.query("{ workspaceOrError { ... on Workspace { locationEntries { name } } } }")
            location = data["workspaceOrError"]["locationEntries"][0]["name"]
            backfill = dev.launch_backfill(ASSETS, BACKFILL_DAYS)
            yield {"sb": sb, "dev": dev, "env": env, "location": location, "tmp": tmp, "backfill": backfill}


def files_of(env: dict[str, str], day: str, out: Path) -> set[str]:
    import sys

    exe = Path(sys.executable).parent / "esg-ratings"
    found = set()
    for kind in ("ratings", "errors", "summary"):
        done = subprocess.run([str(exe), "files", "get", day, "--kind", kind, "--out", str(out)], env=env,
                              capture_output=True, text=True, timeout=120)
        if done.returncode == 0:
            found.add(kind)
    return found


def test_schedule_and_sensors_are_listed_and_running(stack) -> None:
    selector = {"repositoryLocationName": stack["location"], "repositoryName": "__repository__"}
    data = stack["dev"].query(
        """query($s: RepositorySelector!) {
             schedulesOrError(repositorySelector: $s) { ... on Schedules { results { name scheduleState { status } } } }
             sensorsOrError(repositorySelector: $s) { ... on Sensors { results { name sensorState { status } } } }
           }""",
        {"s": selector},
    )
    schedules = {s["name"]: s["scheduleState"]["status"] for s in data["schedulesOrError"]["results"]}
    assert schedules == {"esg_daily_schedule": "RUNNING", "retention_schedule": "RUNNING"}
    sensors = {s["name"]: s["sensorState"]["status"] for s in data["sensorsOrError"]["results"]}
    assert sensors and set(sensors.values()) == {"RUNNING"}


def test_materialize_one_partition_through_the_graphql_client(stack) -> None:
    client = DagsterGraphQLClient("127.0.0.1", port_number=stack["dev"].port)
    run_id = client.submit_job_execution(
        "esg_daily_job", repository_location_name=stack["location"], repository_name="__repository__",
        tags={"dagster/partition": ONE_DAY},
    )
    stack["dev"].assert_succeeded([run_id])
    assert files_of(stack["env"], ONE_DAY, stack["tmp"] / "one") == {"ratings", "errors", "summary"}


def test_targeted_rerun_through_run_config(stack) -> None:
    sb = stack["sb"]
    client = DagsterGraphQLClient("127.0.0.1", port_number=stack["dev"].port)
    mark = sb.next_index()
    run_id = client.submit_job_execution(
        "esg_daily_job", repository_location_name=stack["location"], repository_name="__repository__",
        tags={"dagster/partition": ONE_DAY},
        run_config={"ops": {"esg_ratings": {"config": {"account_ids": ["ACC-0000002"]}}}},
    )
    stack["dev"].assert_succeeded([run_id])
    # The backfill's runs may call the sandbox before or after this one (never during it: one run
    # at a time holds the state database), so the rerun's calls are those inside its own run.
    run = stack["dev"].query("query($id: ID!) { runOrError(runId: $id) { ... on Run { startTime endTime } } }",
                             {"id": run_id})["runOrError"]
    calls = [r["account_id"] for r in sb.requests(mark)
             if r["kind"] == "analysis" and run["startTime"] <= r["t_wall"] <= run["endTime"]]
    assert calls == ["ACC-0000002"]


def test_backfill_of_several_partitions_completes_without_lock_errors(stack) -> None:
    dev = stack["dev"]
    state = dev.wait_for_backfill(stack["backfill"])
    failures = {r["runId"]: dev.failure_messages(r["runId"]) for r in state["runs"] if r["status"] != "SUCCESS"}
    assert state["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), failures
    assert state["runs"] and {r["status"] for r in state["runs"]} == {"SUCCESS"}
    for day in BACKFILL_DAYS:
        assert files_of(stack["env"], day, stack["tmp"] / "bf") == {"ratings", "errors", "summary"}, day
    assert "Could not set lock" not in dev.log()


def chromium(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    base = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", "--virtual-time-budget=10000"]
    return subprocess.run(base + list(args), capture_output=True, text=True, timeout=timeout)


def test_a_real_browser_renders_the_asset_graph_and_partitions(stack, tmp_path) -> None:
    """Runs after the flows above (module order): the partitions they materialized show."""
    dev = stack["dev"]
    ARTIFACTS.mkdir(exist_ok=True)
    dev.query("mutation { setNuxSeen }")  # the one-time community pop-up would cover the page
    profile = tmp_path / "profile"
    shot = ARTIFACTS / "ui-asset-graph.png"
    shot.unlink(missing_ok=True)  # the one this run takes, not a previous run's
    # One browser for the graph's DOM and its screenshot (headless Chromium does both in one load).
    graph = chromium(f"--user-data-dir={profile}-1", "--window-size=1400,900", f"--screenshot={shot}", "--dump-dom",
                     f"{dev.url}/asset-groups/esg")
    assert graph.returncode == 0, graph.stderr[-2000:]
    for name in ASSETS:
        assert name in graph.stdout, name
    assert shot.exists() and shot.stat().st_size > 10_000
    partitions = chromium(f"--user-data-dir={profile}-2", "--dump-dom", f"{dev.url}/assets/esg_ratings?view=partitions")
    assert partitions.returncode == 0
    assert ONE_DAY in partitions.stdout or "Materialized" in partitions.stdout
