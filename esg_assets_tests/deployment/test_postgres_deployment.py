"""The PostgreSQL-backed deployment, as users copy it (deploy/dagster-postgres.yaml), with the
webserver, the daemon and the code server (which starts the run workers) as separate processes
with separate DAGSTER_HOMEs (esg_assets_tests/deployment/hosts.py): the schedule's run of a day,
two runs from two homes at once, a 3-day backfill through GraphQL, a targeted rerun from run
config, the 5 % check and its alert, and the alerts once per (partition, kind) after the daemon
moves to a fresh host. Compute logs go to S3 (moto) with SSE-KMS, the job's JSON lines to the
event log in PostgreSQL. One deployment for the module: the tests run in file order."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import dagster as dg
import pytest
from dagster_graphql import DagsterGraphQLClient

from esg_assets_tests.support.alerting import SmtpServer, PagerDutyStandIn, alert_env, free_port, start_pagerduty, start_smtp
from esg_assets_tests.support.job import ALL_ASSETS, clean_environ, fast_job_env
from esg_assets_tests.support.deploy import DEPLOY_FILE, deploy_home
from esg_assets_tests.deployment.hosts import BIN, Webserver, start, stop, terminate, wait_for_port, workspace
from esg_assets_tests.support.postgres import PostgresServer
from esg_assets_tests.sandbox.harness import SandboxProcess

from esg_assets.storage.names import logical_name

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
LOCATION = {"repository_location_name": "esg_assets", "repository_name": "__repository__"}
ASSETS = ALL_ASSETS.split(",")
ONE_DAY, PAIR, THRESHOLD_DAY = "2026-11-10", ("2026-11-11", "2026-11-12"), "2026-11-18"
BACKFILL_DAYS = ["2026-11-13", "2026-11-14", "2026-11-15"]
CHICAGO = ZoneInfo("America/Chicago")
SENSORS = ("esg_run_failed_alert", "esg_window_exceeded_alert", "esg_missed_start_alert", "esg_failure_threshold_alert")


def aws(service: str, endpoint: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing")


@dataclass
class Deployment:
    tmp: Path
    pg: PostgresServer
    database: str
    sb: SandboxProcess
    web: Webserver
    smtp: SmtpServer
    pagerduty: PagerDutyStandIn
    shared: dict[str, str]  # what every host has: PostgreSQL, S3 and its credentials
    worker_env: dict[str, str]  # the worker host's: plus the job's settings and secrets
    workspace: Path
    daemon: subprocess.Popen[bytes]
    bucket: str
    log_bucket: str
    backfill_id: str = ""

    def s3(self) -> Any:
        return aws("s3", self.shared["AWS_ENDPOINT_URL_S3"])

    def client(self) -> DagsterGraphQLClient:
        return DagsterGraphQLClient("127.0.0.1", port_number=self.web.port)

    def launch(self, day: str, run_config: dict[str, Any] | None = None, tags: dict[str, str] | None = None) -> str:
        return self.client().submit_job_execution("esg_daily_job", **LOCATION, run_config=run_config,
                                                  tags={"dagster/partition": day, **(tags or {})})

    def run(self, run_id: str) -> dict[str, Any]:
        return dict(self.web.query(
            """query($id: ID!) { runOrError(runId: $id) { ... on Run { status creationTime startTime endTime
                 tags { key value } } } }""", {"id": run_id})["runOrError"])

    def events(self, run_id: str) -> list[dict[str, Any]]:
        return list(self.web.query(
            """query($id: ID!) { logsForRun(runId: $id) { ... on EventConnection { events { __typename
                 ... on MessageEvent { message } ... on LogsCapturedEvent { fileKey } } } } }""",
            {"id": run_id})["logsForRun"]["events"])

    def output_keys(self, day: str) -> set[str]:
        keys = {o["Key"] for o in self.s3().list_objects_v2(Bucket=self.bucket).get("Contents", [])}
        return {kind for kind in ("ratings", "errors", "summary") if any(k.endswith(logical_name(day, kind)) for k in keys)}


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, postgres: PostgresServer, moto_endpoint: str) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("deployment")
    database = postgres.new_database()
    shared = clean_environ(**postgres.env(database), AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                           AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL_S3=moto_endpoint)
    s3 = aws("s3", moto_endpoint)
    bucket, log_bucket = f"esg-out-{uuid.uuid4().hex[:8]}", f"esg-logs-{uuid.uuid4().hex[:8]}"
    for name in (bucket, log_bucket):
        s3.create_bucket(Bucket=name)
    kms_key = aws("kms", moto_endpoint).create_key()["KeyMetadata"]["KeyId"]
    shared["DAGSTER_COMPUTE_LOG_BUCKET"] = log_bucket
    smtp, (pagerduty, pd_server) = start_smtp(free_port()), start_pagerduty()
    port = free_port()
    ws = workspace(tmp / "workspace.yaml", port)
    with SandboxProcess(accounts=10, seed=31, today="2026-11-20") as sb:
        worker_env = {**shared, **fast_job_env(tmp / "worker-host", sb.env()), **alert_env(smtp.port, pagerduty.url),
                      "ESG_STATE_DB": str(tmp / "state-volume" / "esg_state.duckdb"), "ESG_STORAGE": "s3",
                      "ESG_S3_BUCKET": bucket, "ESG_S3_KMS_KEY_ID": kms_key, "ESG_S3_ENDPOINT_URL": moto_endpoint}
        deploy_home(tmp / "worker-host")  # over the SQLite dagster.yaml fast_job_env put there
        worker = start([str(BIN / "dagster"), "api", "grpc", "-m", "esg_assets", "-h", "127.0.0.1", "-p", str(port)],
                       worker_env, tmp / "worker.log")
        daemon = start([str(BIN / "dagster-daemon"), "run", "-w", str(ws)],
                       {**shared, "DAGSTER_HOME": str(deploy_home(tmp / "daemon-host"))}, tmp / "daemon.log")
        try:
            wait_for_port(port, worker, tmp / "worker.log")
            web_env = {**shared, "DAGSTER_HOME": str(deploy_home(tmp / "web-host"))}
            with Webserver(web_env, tmp / "webserver.log", ws) as web:
                dep = Deployment(tmp, postgres, database, sb, web, smtp, pagerduty, shared, worker_env, ws, daemon,
                                 bucket, log_bucket)
                yield dep
                terminate(dep.daemon, worker)  # while the webserver stops
        finally:
            stop(dep.daemon if "dep" in locals() else daemon, worker)
            smtp.controller.stop()
            pd_server.shutdown()


def test_the_file_is_a_postgres_instance_with_the_4_hour_limit_and_one_run_at_a_time(
        deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in deployment.shared.items():
        monkeypatch.setenv(name, value)
    instance = dg.DagsterInstance.from_config(str(deploy_home(deployment.tmp / "test-host")))
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    assert type(instance.compute_log_manager).__name__ == "S3ComputeLogManager"
    assert instance.run_monitoring_settings == {"enabled": True, "max_runtime_seconds": 14400, "poll_interval_seconds": 30}
    queue = instance.get_concurrency_config()
    assert queue.run_queue_config is not None and queue.run_queue_config.max_concurrent_runs == 1
    assert queue.pool_config.default_pool_limit == 1
    assert "sslmode: require" in DEPLOY_FILE.read_text()  # and the server accepts TLS only (support/postgres.py)


def test_the_schedules_run_of_a_day_with_its_logs_where_every_host_sees_them(deployment: Deployment) -> None:
    web = deployment.web
    at = datetime.combine(datetime.fromisoformat(ONE_DAY), clock(5, 0), tzinfo=CHICAGO).timestamp()
    tick = web.query(
        """mutation($s: ScheduleSelector!, $t: Float) { scheduleDryRun(selectorData: $s, timestamp: $t) {
             __typename ... on DryRunInstigationTick { evaluationResult { runRequests { tags { key value } } } } } }""",
        {"s": {"repositoryLocationName": "esg_assets", "repositoryName": "__repository__",
               "scheduleName": "esg_daily_schedule"}, "t": at})["scheduleDryRun"]
    [request] = tick["evaluationResult"]["runRequests"]
    tags = {t["key"]: t["value"] for t in request["tags"]}
    assert tags["dagster/partition"] == ONE_DAY  # the 05:00 tick of a day requests that day
    run_id = deployment.launch(ONE_DAY, tags=tags)  # what the daemon's tick would submit, submitted now
    web.assert_succeeded([run_id], timeout=150)
    assert {"key": "dagster/max_runtime", "value": "14400"} in deployment.run(run_id)["tags"]
    assert deployment.output_keys(ONE_DAY) == {"ratings", "errors", "summary"}

    events = deployment.events(run_id)
    json_lines = [json.loads(e["message"].split(" ", 1)[1]) for e in events
                  if e.get("message", "").split(" ", 1)[0] in ("step_start", "step_end")]
    assert {(r["asset"], r["event"]) for r in json_lines} >= {(a, "step_end") for a in ASSETS}
    assert all(r["run_id"] == run_id and r["partition"] == ONE_DAY for r in json_lines)

    [file_key] = {e["fileKey"] for e in events if e["__typename"] == "LogsCapturedEvent"}
    s3 = deployment.s3()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=deployment.log_bucket, Prefix="esg-ratings/compute-logs/")
            .get("Contents", []) if run_id in o["Key"]]
    assert {Path(k).suffix for k in keys} == {".out", ".err"}
    assert {s3.head_object(Bucket=deployment.log_bucket, Key=k)["ServerSideEncryption"] for k in keys} == {"aws:kms"}
    stderr = b"".join(s3.get_object(Bucket=deployment.log_bucket, Key=k)["Body"].read() for k in keys if k.endswith(".err"))
    assert b'"event":"step_end"' in stderr
    for local in Path("/tmp/storage", run_id).rglob("*"):  # this host's cache: the UI must read S3
        if local.is_file():
            local.unlink()
    captured = web.query("query($k: [String!]!) { capturedLogs(logKey: $k) { stderr } }",
                         {"k": [run_id, "compute_logs", file_key]})["capturedLogs"]
    assert '"event":"step_end"' in (captured["stderr"] or "")


def test_a_three_day_backfill_is_launched_through_graphql(deployment: Deployment) -> None:
    """The job's backfill (the Launchpad's "Launch backfill"): one run per day, submitted by the
    daemon on its next 30-second iteration. Launched after the schedule's run and waited for before
    the two-homes pair: runs go one at a time, so a test whose runs queued behind the backfill's
    three waited for five runs within a bound meant for its own (seen failing under load). (An
    asset-graph backfill walks the days through several such iterations, minutes for three days;
    esg_assets_tests/ui covers it on SQLite.)"""
    launched = deployment.web.query(
        """mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) {
             __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }""",
        {"p": {"selector": {"partitionSetName": "esg_daily_job_partition_set", "repositorySelector": {
            "repositoryLocationName": "esg_assets", "repositoryName": "__repository__"}},
            "partitionNames": BACKFILL_DAYS}})["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    deployment.backfill_id = launched["backfillId"]


def test_the_backfill_ran_each_day_once_in_day_order(deployment: Deployment) -> None:
    web = deployment.web
    deadline, runs = time.monotonic() + 180, []
    while len(runs) < len(BACKFILL_DAYS):
        assert time.monotonic() < deadline, f"backfill runs: {runs}"
        time.sleep(1)
        runs = web.query("""query($id: String!) { partitionBackfillOrError(backfillId: $id) {
                              ... on PartitionBackfill { runs { runId tags { key value } } } } }""",
                         {"id": deployment.backfill_id})["partitionBackfillOrError"]["runs"]
    web.assert_succeeded([r["runId"] for r in runs], timeout=180)
    in_order = sorted(runs, key=lambda r: deployment.run(r["runId"])["startTime"])
    assert [next(t["value"] for t in r["tags"] if t["key"] == "dagster/partition") for r in in_order] == BACKFILL_DAYS
    for day in BACKFILL_DAYS:
        assert deployment.output_keys(day) == {"ratings", "errors", "summary"}, day


def test_two_runs_launched_from_two_homes_at_once_queue_not_collide(deployment: Deployment) -> None:
    """One from a laptop's `dagster job launch` (its own DAGSTER_HOME), one through the UI's
    GraphQL: both wait in the one queue in PostgreSQL, and the state database sees one writer."""
    web = deployment.web
    laptop = {**deployment.shared, "DAGSTER_HOME": str(deploy_home(deployment.tmp / "laptop"))}
    cli = subprocess.Popen([str(BIN / "dagster"), "job", "launch", "-w", str(deployment.workspace), "-j", "esg_daily_job",
                            "--tags", json.dumps({"dagster/partition": PAIR[1]})], env=laptop,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline, cli_runs = time.monotonic() + 120, []
    while not cli_runs:
        assert time.monotonic() < deadline and cli.poll() in (None, 0), cli.stdout.read() if cli.stdout else cli.returncode
        cli_runs = web.query("""query($t: [ExecutionTag!]) { runsOrError(filter: {tags: $t}) { ... on Runs {
                                   results { runId } } } }""",
                             {"t": [{"key": "dagster/partition", "value": PAIR[1]}]})["runsOrError"]["results"]
        time.sleep(0.2)
    ui_run = deployment.launch(PAIR[0])
    assert cli.wait(60) == 0
    run_ids = [ui_run, cli_runs[0]["runId"]]
    web.assert_succeeded(run_ids, timeout=150)
    first, second = sorted((deployment.run(r) for r in run_ids), key=lambda r: r["startTime"])
    assert second["creationTime"] < first["endTime"]  # both were in the system at once ...
    assert first["endTime"] <= second["startTime"]  # ... and the second began after the first ended


def test_the_5_percent_check_fails_while_the_run_succeeds(deployment: Deployment) -> None:
    sb, web = deployment.sb, deployment.web
    sb.script({"ACC-0000004": ["404"]})  # 1 of 10 called accounts Failed: 10 % > 5 %
    run_id = deployment.launch(THRESHOLD_DAY, {"ops": {"esg_ratings": {"config": {"full_refresh": True}}}})
    web.assert_succeeded([run_id], timeout=150)  # a non-blocking check: the run succeeds
    checks = web.query("""query($id: ID!) { logsForRun(runId: $id) { ... on EventConnection { events {
                            ... on AssetCheckEvaluationEvent { evaluation { checkName success } } } } } }""",
                       {"id": run_id})["logsForRun"]["events"]
    five_percent = [e["evaluation"] for e in checks if e and e["evaluation"]["checkName"] == "call_failure_rate_within_5_percent"]
    assert five_percent == [{"checkName": "call_failure_rate_within_5_percent", "success": False}]


def test_a_targeted_rerun_from_run_config(deployment: Deployment) -> None:
    """The rerun's `account_ids` reach the worker host through the run stored in PostgreSQL: an
    account that is not active that day fails the run, naming it (and `run_failed` goes out,
    below). That a targeted rerun calls exactly its accounts is the same GraphQL launch on SQLite
    (ui/test_graphql_flows.py::test_targeted_rerun_through_run_config): one run fewer here."""
    web = deployment.web
    bad = deployment.launch(ONE_DAY, {"ops": {"esg_ratings": {"config": {"account_ids": ["ACC-9999999"]}}}})
    assert web.wait_for_runs([bad], timeout=150)[bad] == "FAILURE"
    assert any("ACC-9999999" in m for m in web.failure_messages(bad))


def delivered(deployment: Deployment) -> tuple[Counter[tuple[str, str]], Counter[tuple[str, str]]]:
    """(partition, kind) -> how many mails, and how many PagerDuty events."""
    mails = Counter((m.message["Subject"].split(" ")[3].rstrip(":"), m.message["Subject"].split(" ")[2])
                    for m in deployment.smtp.sink.messages)
    pages = Counter((e["dedup_key"].split("/")[1], e["dedup_key"].split("/")[2]) for e in deployment.pagerduty.events)
    return mails, pages


def expected_alerts() -> set[tuple[str, str]]:
    expected = {(THRESHOLD_DAY, "failure_threshold"), (ONE_DAY, "run_failed")}
    now = datetime.now(CHICAGO)
    if now.time() >= clock(5, 16):  # no run of today's partition started by 05:15
        expected.add((now.date().isoformat(), "missed_start"))
    return expected


def wait_until(done: Any, timeout: float, what: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert proc.poll() is None, f"the daemon died: {log.read_text(errors='replace')[-2000:]}"
        assert time.monotonic() < deadline, f"{what} within {timeout} s"
        time.sleep(1)


def sensor_ticks_since(deployment: Deployment, since: float) -> set[str]:
    """Names of the sensors that completed a tick after `since` (from the instance's PostgreSQL)."""
    rows = deployment.pg.sql(deployment.database, "SELECT tick_body FROM job_ticks WHERE type = 'SENSOR'")
    ticks = [dg.deserialize_value(body) for (body,) in rows]
    return {t.instigator_name for t in ticks if t.timestamp > since and t.status.value != "STARTED"}


def test_alerts_once_per_partition_and_kind_across_a_daemon_restart(deployment: Deployment) -> None:
    """`failure_threshold` (the 5 % day), `run_failed` (the bad rerun) and, after 05:15 Chicago,
    `missed_start` of today went out once on each channel; the daemon then moves to a fresh host
    (a new DAGSTER_HOME, its own code process) and its sensors send none of them again."""
    tmp = deployment.tmp
    expected = expected_alerts()

    def all_there() -> bool:
        mails, pages = delivered(deployment)
        return all(mails[k] and pages[k] for k in expected)

    wait_until(all_there, 120, f"alerts {sorted(expected)} on both channels", deployment.daemon, tmp / "daemon.log")

    stop(deployment.daemon)
    restarted = time.time()
    env = {**deployment.worker_env, "DAGSTER_HOME": str(deploy_home(tmp / "daemon-host-2"))}
    deployment.daemon = start([str(BIN / "dagster-daemon"), "run", "-m", "esg_assets"], env, tmp / "daemon-2.log")
    wait_until(lambda: sensor_ticks_since(deployment, restarted) >= set(SENSORS), 150,
               "every alert sensor ticked on the new daemon", deployment.daemon, tmp / "daemon-2.log")

    mails, pages = delivered(deployment)
    assert expected <= set(mails) and expected <= set(pages)
    assert set(mails.values()) == {1} and set(pages.values()) == {1}, (mails, pages)
    rows = deployment.pg.sql(deployment.database, "SELECT partition, kind, channel, status FROM esg_alert_delivery")
    assert {(p, k) for p, k, _, _ in rows} >= expected and {s for *_, s in rows} == {"sent"}
    assert not list(tmp.rglob("esg_alerts.sqlite"))  # no host kept a ledger of its own
