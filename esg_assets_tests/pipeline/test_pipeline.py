"""The four assets in process against the sandbox as a real server: every failure kind ends in
the right row, error kind and attempt count (a clean day against the golden file:
assets/test_golden_direct.py)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import dagster as dg
import pytest

from esg_assets_tests.support.job import PARTITION, fast_job_env, read_output, run_day
from esg_assets_tests.pipeline.oracle import expected_csv, expected_row, parse_csv
from esg_assets_tests.sandbox.harness import SandboxProcess

pytestmark = pytest.mark.integration

# account -> (script, status, error kind, http status, requests expected)
SCENARIOS = {
    "ACC-0000002": (["503", "503", "ok"], "Successful", None, None, 3),
    "ACC-0000003": (["503"], "Failed", "http_status", "503", 3),
    "ACC-0000004": (["429:1", "ok"], "Successful", None, None, 2),
    "ACC-0000005": (["timeout"], "Failed", "timeout", "", 3),
    "ACC-0000006": (["reset"], "Failed", "connection", "", 3),
    "ACC-0000007": (["invalid-json"], "Failed", "invalid_response", "200", 3),
    "ACC-0000008": (["403"], "Failed", "forbidden", "403", 1),
    "ACC-0000009": (["404"], "Failed", "not_found", "404", 1),
    "ACC-0000010": (["400"], "Failed", "http_status", "400", 1),
    "ACC-0000011": (["501"], "Failed", "http_status", "501", 1),
    "ACC-0000012": (["partial"], "Partial", "partial_data", "200", 1),
    "ACC-0000013": (["nodata"], "Failed", "no_data", "200", 1),
    "ACC-0000014": (["invalid-score-range", "ok"], "Successful", None, None, 2),
    "ACC-0000015": (["500", "404"], "Failed", "not_found", "404", 2),
    "ACC-0000016": (["invalid-pillar", "invalid-wrong-id", "invalid-date"], "Failed", "invalid_response", "200", 3),
    "ACC-0000017": (["422"], "Failed", "http_status", "422", 1),
    "ACC-0000018": (["408", "505"], "Failed", "http_status", "505", 2),
    "ACC-0000019": (["401", "ok"], "Successful", None, None, 2),  # a 401 re-send: a request, not an attempt
}


@pytest.fixture(scope="module")
def scripted_run(tmp_path_factory: pytest.TempPathFactory):
    """One run of the day with every scripted behaviour (shared by the assertions below)."""
    mp = pytest.MonkeyPatch()
    with SandboxProcess(accounts=24, seed=3, today=PARTITION, timeout_delay=3) as sb:
        env = fast_job_env(tmp_path_factory.mktemp("home"), sb.env())
        for k, v in env.items():
            mp.setenv(k, v)
        sb.script({acc: steps for acc, (steps, *_rest) in SCENARIOS.items()})
        with dg.instance_for_test(temp_dir=env["DAGSTER_HOME"]) as instance:
            result = run_day(instance=instance)
            yield {
                "result": result,
                "accounts": sb.accounts(),
                "requests": sb.requests(),
                "ratings": read_output(PARTITION, "ratings"),
                "errors": read_output(PARTITION, "errors"),
                "summary": json.loads(read_output(PARTITION, "summary")),
                "report": read_output(PARTITION, "report").decode("utf-8"),
                "log_lines": [line for p in sorted((Path(env["DAGSTER_HOME"]) / "logs").glob("esg-ratings-*.jsonl"))
                              for line in p.read_text().splitlines()],
                "metrics": (Path(env["DAGSTER_HOME"]) / "metrics" / "esg_ratings.prom").read_text(),
                "env": env,
                "instance": instance,
            }
    mp.undo()


def test_run_succeeds(scripted_run) -> None:
    assert scripted_run["result"].success


def test_every_failure_kind_ends_in_the_right_error_row(scripted_run) -> None:
    rows = {r[0]: r for r in parse_csv(scripted_run["errors"])[1:]}
    for account, (_steps, status, kind, http, _n) in SCENARIOS.items():
        if status == "Successful":
            assert account not in rows, account
            continue
        row = rows[account]
        assert (row[2], row[3]) == (kind, http), (account, row)
        assert row[5].endswith("Z") and "T" in row[5]
    assert parse_csv(scripted_run["errors"])[0] == [
        "Account ID", "Attempts", "Error Kind", "HTTP Status", "Error Message", "Last Attempt At"]


def test_attempts_match_the_requests_the_server_saw(scripted_run) -> None:
    seen = Counter(r["account_id"] for r in scripted_run["requests"] if r["kind"] == "analysis")
    errors = {r[0]: r for r in parse_csv(scripted_run["errors"])[1:]}
    for account, (_steps, status, _kind, _http, n) in SCENARIOS.items():
        assert seen[account] == n, account
        if account in errors:
            assert errors[account][1] == str(n), account  # requests made, as the server saw them
    for account in ("ACC-0000001", "ACC-0000020", "ACC-0000024"):
        assert seen[account] == 1


def test_ratings_file_matches_an_independent_reading_of_the_contract(scripted_run) -> None:
    statuses = {acc: status for acc, (_s, status, *_r) in SCENARIOS.items()}
    rows = []
    for account in scripted_run["accounts"]:
        status = statuses.get(account["account_id"], "Successful")
        if status == "Partial":
            continue  # compared field by field below
        rows.append(expected_row(account, status))
    actual = parse_csv(scripted_run["ratings"])
    partial = [r for r in actual if r[9] == "Partial"]
    assert [r[0] for r in partial] == ["ACC-0000012"]
    assert "N/A" in partial[0][2:9] and partial[0][8] != "N/A"
    assert parse_csv(expected_csv(rows)) == [r for r in actual if r[0] != "ACC-0000012"]
    assert scripted_run["ratings"].endswith(b"\r\n")


def test_summary_figures(scripted_run) -> None:
    s = scripted_run["summary"]
    failed = sorted(a for a, (_s, st, *_r) in SCENARIOS.items() if st == "Failed")
    assert s["partition"] == PARTITION
    assert s["total_accounts"] == 24
    assert s["status_counts"] == {"Successful": 24 - len(failed) - 1, "Partial": 1, "Failed": len(failed)}
    assert s["failed_accounts"] == failed
    assert s["accounts_called"] == 24 and s["carried_forward"] == 0
    assert s["call_failure_rate"] == round(len(failed) / 24, 4)
    analysis_requests = sum(1 for r in scripted_run["requests"] if r["kind"] == "analysis")
    assert s["api"]["requests"] == analysis_requests
    # Requests beyond the first per account: the 401 re-send of ACC-0000019 is one of them.
    assert s["api"]["retries"] == sum(n - 1 for (_s, _st, _k, _h, n) in SCENARIOS.values())
    assert s["api"]["rate_limited"] == 1
    assert s["api"]["token_refreshes"] == 1
    assert list(s) == ["partition", "generated_at", "total_accounts", "status_counts", "success_rate",
                       "accounts_called", "carried_forward", "call_failure_rate", "average_scores",
                       "primary_focus_distribution", "failed_accounts", "api", "carry_check", "duration_seconds"]
    assert s["carry_check"] == {"sampled": 0, "matched": 0, "differed": [], "unverified": []}  # a first day


def test_the_5_percent_check_failed_and_was_recorded(scripted_run) -> None:
    result = scripted_run["result"]
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == {"call_failure_rate_within_5_percent", "carried_rows_match_api"}
    assert evaluations["call_failure_rate_within_5_percent"].passed is False
    assert evaluations["carried_rows_match_api"].passed is True  # nothing carried on a first day


# A clean day's ratings file byte for byte the golden file: assets/test_golden_direct.py.


def test_report_holds_the_summary_figures(scripted_run) -> None:
    import re

    html = scripted_run["report"]
    block = re.search(r'<script type="application/json" id="esg-summary">(.*?)</script>', html, re.S)
    assert block is not None
    assert json.loads(block.group(1)) == scripted_run["summary"]
    assert re.search(r'data-figure="total_accounts"[^>]*>\s*24\b', html) or 'data-value="24"' in html
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', html)
    assert html.count("<svg") >= 5


REQUIRED_EVENTS = {"job_start", "step_start", "accounts_listed", "ratings_plan", "ratings_done",
                   "files_written", "summary_written", "step_end", "job_end"}


def test_structured_log_has_every_event_and_no_secret_or_name(scripted_run) -> None:
    records = [json.loads(line) for line in scripted_run["log_lines"]]
    assert REQUIRED_EVENTS <= {r["event"] for r in records}
    run_ids = {r["run_id"] for r in records}
    assert run_ids == {scripted_run["result"].run_id}
    done = next(r for r in records if r["event"] == "ratings_done")
    assert done["statuses"]["Failed"] == 13 and done["error_kinds"]["timeout"] == 1
    assert done["requests"] == scripted_run["summary"]["api"]["requests"]
    text = "\n".join(scripted_run["log_lines"])
    env = scripted_run["env"]
    for secret in (env["ESG_CLIENT_SECRET"], env["ESG_FILE_ENCRYPTION_KEY"]):
        assert secret not in text
    for account in scripted_run["accounts"]:
        assert account["account_name"] not in text, account["account_id"]


def test_metrics_textfile(scripted_run) -> None:
    metrics = scripted_run["metrics"]
    assert 'esg_ratings_accounts_total{partition="2026-11-20"} 24' in metrics
    assert 'esg_ratings_accounts_by_status{partition="2026-11-20",status="Failed"} 13' in metrics
    assert "# TYPE esg_ratings_call_failure_rate gauge" in metrics
