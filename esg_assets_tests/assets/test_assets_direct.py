"""Each asset's own logic, called directly with `dg.build_asset_context(partition_key=...)`
(direct.py): what it returns in its metadata, the rows it writes to the state database and the
files it stores, against the sandbox; each in about a second, no job and no subprocess."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from esg_assets.assets.accounts import active_accounts
from esg_assets.assets.files import ratings_csv
from esg_assets.assets.ratings import RatingsConfig, esg_ratings
from esg_assets.assets.summary import daily_summary
from esg_assets_tests.assets.direct import DAY, call, direct_env, failure, state, stored, use_env, values
from esg_assets_tests.sandbox.harness import SandboxProcess

ACCOUNTS = 12
YMD = DAY.replace("-", "")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProcess]:
    with SandboxProcess(accounts=ACCOUNTS, seed=11, today=DAY) as sb:
        yield sb


@pytest.fixture
def env(sandbox, tmp_path, monkeypatch) -> dict[str, str]:
    sandbox.clear_scripts()
    e = direct_env(tmp_path / "home", sandbox)
    use_env(monkeypatch, e)
    return e


def analysis_calls(sandbox: SandboxProcess, since: int) -> list[str]:
    return sorted(r["account_id"] for r in sandbox.requests(since) if r["kind"] == "analysis")


def test_active_accounts_stores_the_days_list_and_says_how_many(env, sandbox) -> None:
    meta = values(call(active_accounts))
    assert (meta["accounts"], meta["duplicates_dropped"], meta["dagster/row_count"]) == (ACCOUNTS, 0, ACCOUNTS)
    with state() as con:
        ids = [r[0] for r in con.execute("SELECT account_id FROM accounts WHERE partition = ? ORDER BY 1", [DAY]).fetchall()]
    assert ids == sorted(a["account_id"] for a in sandbox.accounts())


def test_active_accounts_with_the_ams_unreachable_is_critical_and_nothing_is_called(env, sandbox, monkeypatch) -> None:
    monkeypatch.setenv("ESG_AMS_BASE_URL", "http://127.0.0.1:9/ams")
    mark = sandbox.next_index()
    err = failure(active_accounts)
    assert err.description.startswith("critical: the AMS account list is incomplete: page 1 could not be fetched")
    assert not err.allow_retries
    assert not any(r["kind"] == "analysis" for r in sandbox.requests(mark))
    assert not (Path(env["DAGSTER_HOME"]) / "output").exists()  # nothing stored


def test_esg_ratings_without_the_days_list_asks_for_active_accounts_first(env) -> None:
    assert failure(esg_ratings, config=RatingsConfig()).description == (
        f"no active-account list for {DAY}: materialize active_accounts first")


def test_esg_ratings_calls_every_account_of_a_first_day_and_records_each_result(env, sandbox) -> None:
    call(active_accounts)
    sandbox.script({"ACC-0000002": ["404"], "ACC-0000005": ["partial"], "ACC-0000007": ["503", "ok"]})
    mark = sandbox.next_index()
    meta = values(call(esg_ratings, config=RatingsConfig()))
    assert (meta["mode"], meta["accounts_called_this_run"], meta["carried_forward_this_run"]) == ("fresh", ACCOUNTS, 0)
    assert (meta["successful"], meta["partial"], meta["failed"]) == (ACCOUNTS - 2, 1, 1)
    assert (meta["api_requests"], meta["api_retries"]) == (ACCOUNTS + 1, 1)
    assert meta["changes_feed"] == "not read (no earlier completed partition)"
    assert len(analysis_calls(sandbox, mark)) == ACCOUNTS + 1
    with state() as con:
        rows = dict(con.execute("SELECT account_id, status || '/' || coalesce(error_kind, '') || '/' || attempts "
                                "FROM ratings WHERE partition = ?", [DAY]).fetchall())
        completed = con.execute("SELECT completed_at IS NOT NULL FROM ratings_partitions WHERE partition = ?", [DAY]).fetchone()
    assert rows["ACC-0000002"] == "Failed/not_found/1" and rows["ACC-0000005"] == "Partial/partial_data/1"
    assert rows["ACC-0000007"] == "Successful//2" and len(rows) == ACCOUNTS and completed == (True,)


def test_esg_ratings_rerun_calls_exactly_the_named_accounts(env, sandbox) -> None:
    call(active_accounts)
    call(esg_ratings, config=RatingsConfig())
    mark = sandbox.next_index()
    meta = values(call(esg_ratings, config=RatingsConfig(account_ids=["ACC-0000003", "ACC-0000009"])))
    assert (meta["mode"], meta["accounts_called_this_run"]) == ("rerun", 2)
    assert analysis_calls(sandbox, mark) == ["ACC-0000003", "ACC-0000009"]


def test_esg_ratings_refuses_unknown_ids_before_any_call_and_changes_nothing(env, sandbox) -> None:
    """Moved here from pipeline/test_rerun.py::test_unknown_id_fails_before_any_call_and_changes_nothing:
    the asset refuses at its start, so the files downstream of it are not rebuilt either."""
    call(active_accounts)
    call(esg_ratings, config=RatingsConfig())
    with state() as con:
        before = con.execute("SELECT * FROM ratings ORDER BY account_id").fetchall()
    mark = sandbox.next_index()
    err = failure(esg_ratings, config=RatingsConfig(account_ids=["ACC-0000003", "ACC-9999999", "NOPE"]))
    assert err.description == f"not active accounts of {DAY}: ACC-9999999, NOPE" and not err.allow_retries
    assert sandbox.requests(mark) == []
    with state() as con:
        assert con.execute("SELECT * FROM ratings ORDER BY account_id").fetchall() == before


def test_ratings_csv_before_the_ratings_completed_is_refused(env) -> None:
    call(active_accounts)
    assert failure(ratings_csv).description == (
        f"the ratings of {DAY} are incomplete ({ACCOUNTS} accounts without a result): materialize esg_ratings first")


def test_ratings_csv_stores_the_four_files_and_counts_their_rows(env, sandbox) -> None:
    call(active_accounts)
    sandbox.script({"ACC-0000004": ["404"]})
    call(esg_ratings, config=RatingsConfig())
    meta = values(call(ratings_csv))
    assert (meta["rows"], meta["error_rows"], meta["dagster/row_count"]) == (ACCOUNTS, 1, ACCOUNTS)
    ratings = list(csv.reader(io.StringIO(stored("ratings").decode())))
    assert stored("ratings").startswith(b"Account ID,Account Name,Overall ESG Score,Environmental Score,Social Score,"
                                        b"Governance Score,Primary ESG Focus,Primary Focus Score,Analysis Date,Processing Status\r\n")
    assert [r[0] for r in ratings[1:]] == [f"ACC-{i:07d}" for i in range(1, ACCOUNTS + 1)]
    assert ratings[4][2:] == ["N/A"] * 7 + ["Failed"]
    assert stored("errors").startswith(b"Account ID,Attempts,Error Kind,HTTP Status,Error Message,Last Attempt At\r\n")
    errors = list(csv.reader(io.StringIO(stored("errors").decode())))
    assert [r[:4] for r in errors[1:]] == [["ACC-0000004", "1", "not_found", "404"]]
    assert stored("parquet").startswith(b"PAR1") and stored("xlsx").startswith(b"PK")


def test_daily_summary_stores_summary_report_and_manifest_and_records_history(env, sandbox) -> None:
    call(active_accounts)
    sandbox.script({"ACC-0000004": ["404"]})
    call(esg_ratings, config=RatingsConfig())
    call(ratings_csv)
    meta = values(call(daily_summary))
    assert meta["summary_file"] == f"FirmESGSummary_{YMD}.json"
    assert (meta["total_accounts"], meta["successful"], meta["partial"], meta["failed"]) == (ACCOUNTS, ACCOUNTS - 1, 0, 1)
    assert meta["call_failure_rate"] == pytest.approx(round(1 / ACCOUNTS, 4))
    assert f"| Successful / Partial / Failed | {ACCOUNTS - 1} / 0 / 1 |" in meta["summary"]
    summary = json.loads(stored("summary"))
    assert (summary["partition"], summary["failed_accounts"], summary["api"]["requests"]) == (DAY, ["ACC-0000004"], ACCOUNTS)
    manifest = json.loads(stored("manifest"))
    assert [f["name"] for f in manifest["files"]] == sorted(
        [f"FirmESGErrors_{YMD}.csv", f"FirmESGRatings_{YMD}.csv", f"FirmESGRatings_{YMD}.parquet",
         f"FirmESGRatings_{YMD}.xlsx", f"FirmESGReport_{YMD}.html", f"FirmESGSummary_{YMD}.json"], key=str.encode)
    assert b"<html" in stored("report").lower()
    with state() as con:
        assert con.execute("SELECT partition, total_accounts, failed FROM job_history").fetchall() == [(DAY, ACCOUNTS, 1)]


def test_the_days_store_holds_the_seven_files_encrypted_and_private(env, sandbox) -> None:
    """Moved here from the end of e2e/test_cli_e2e.py::test_materialize_then_files_get: the local
    store holds .enc files only, 0600, in a 0700 directory, no plain text in any of them."""
    call(active_accounts)
    call(esg_ratings, config=RatingsConfig())
    call(ratings_csv)
    call(daily_summary)
    store = Path(env["DAGSTER_HOME"]) / "output"
    assert oct(store.stat().st_mode & 0o777) == "0o700"
    assert sorted(p.name for p in store.iterdir()) == [
        f"FirmESGErrors_{YMD}.csv.enc", f"FirmESGManifest_{YMD}.json.enc", f"FirmESGRatings_{YMD}.csv.enc",
        f"FirmESGRatings_{YMD}.parquet.enc", f"FirmESGRatings_{YMD}.xlsx.enc", f"FirmESGReport_{YMD}.html.enc",
        f"FirmESGSummary_{YMD}.json.enc"]
    names = [a["account_name"].encode() for a in sandbox.accounts()]
    for p in store.iterdir():
        data = p.read_bytes()
        assert oct(p.stat().st_mode & 0o777) == "0o600", p.name
        assert b"Account ID" not in data and not [n for n in names if n in data], p.name
