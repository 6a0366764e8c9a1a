"""The day's Parquet file, workbook and manifest from a real run against the sandbox, read back
through `esg-ratings files get` as a consumer would: the Parquet and the workbook hold the CSV's
rows, the manifest's sizes, hashes and row counts equal the files' bytes, it is written last,
rewritten by a targeted rerun, and `files verify` checks the day (audited). One day is
materialized for the module; a test that changes it works on a copy of it (`fresh_day`)."""

from __future__ import annotations

import json
import os
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import openpyxl
import pytest
from openpyxl.utils.escape import unescape

from esg_assets.settings import load_storage
from esg_assets.storage import audit
from esg_assets.storage.factory import open_store
from esg_assets_tests.support.job import PARTITION, fast_job_env, read_output, run_day
from esg_assets_tests.pipeline.oracle import parse_csv
from esg_assets_tests.sandbox.harness import SandboxProcess
from esg_assets_tests.support.cli import run_cli

pytestmark = pytest.mark.integration
YMD = PARTITION.replace("-", "")
KINDS = {"ratings": f"FirmESGRatings_{YMD}.csv", "errors": f"FirmESGErrors_{YMD}.csv",
         "summary": f"FirmESGSummary_{YMD}.json", "report": f"FirmESGReport_{YMD}.html",
         "parquet": f"FirmESGRatings_{YMD}.parquet", "xlsx": f"FirmESGRatings_{YMD}.xlsx"}
MANIFEST = f"FirmESGManifest_{YMD}.json"


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One materialized day (a sandbox, a job environment and a Dagster instance), only read by
    the tests that use it; the sandbox stays up for the module."""
    mp = pytest.MonkeyPatch()
    try:
        with SandboxProcess(accounts=20, seed=13, today=PARTITION) as sb:
            env = fast_job_env(tmp_path_factory.mktemp("day") / "home", sb.env(), ESG_AUDIT_ACTOR="job",
                               ESG_AUTHORIZED_READERS="job")
            for k, v in env.items():
                mp.setenv(k, v)
            sb.script({"ACC-0000003": ["503"], "ACC-0000007": ["partial"]})
            with dg.instance_for_test(temp_dir=env["DAGSTER_HOME"]) as instance:
                result = run_day(instance=instance)
                assert result.success
                sb.clear_scripts()
                yield result, instance
    finally:
        mp.undo()


@pytest.fixture
def fresh_day(day, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A copy of the materialized day that a test may change: its whole DAGSTER_HOME (the
    instance's runs, the state database, the store, the audit log), byte for byte as the run
    left it, with DAGSTER_HOME pointing at the copy (every other path derives from it)."""
    home = tmp_path / "home"
    shutil.copytree(os.environ["DAGSTER_HOME"], home, symlinks=True)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        yield instance


def files_get(capfd: pytest.CaptureFixture[str], kind: str, out: Path) -> bytes:
    code, _out, err = run_cli(capfd, "files", "get", PARTITION, "--kind", kind, "--out", str(out))
    assert code == 0, err
    name = MANIFEST if kind == "manifest" else KINDS[kind]
    return (out / name).read_bytes()


def _na(value: str, cast):  # type: ignore[no-untyped-def]
    return None if value == "N/A" else cast(value)


def test_parquet_read_back_with_duckdb_holds_the_csv_rows(day, capfd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    csv_rows = parse_csv(files_get(capfd, "ratings", tmp_path))[1:]
    files_get(capfd, "parquet", tmp_path)
    rel = duckdb.sql(f"SELECT * FROM read_parquet('{tmp_path / KINDS['parquet']}')")
    assert [str(t) for t in rel.types] == ["VARCHAR", "VARCHAR"] + ["DECIMAL(5,2)"] * 4 + [
        "VARCHAR", "DECIMAL(5,2)", "DATE", "VARCHAR", "DATE"]
    expected = [(r[0], r[1], *(_na(v, Decimal) for v in r[2:6]), _na(r[6], str), _na(r[7], Decimal),
                 _na(r[8], date.fromisoformat), r[9], date.fromisoformat(PARTITION)) for r in csv_rows]
    assert rel.fetchall() == expected
    statuses = {r[9] for r in csv_rows}
    assert {"Successful", "Partial", "Failed"} <= statuses  # NULLs of both kinds were exercised


def test_workbook_read_back_with_openpyxl_holds_the_csv_rows(day, capfd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    csv_rows = parse_csv(files_get(capfd, "ratings", tmp_path))
    files_get(capfd, "xlsx", tmp_path)
    sheet = openpyxl.load_workbook(tmp_path / KINDS["xlsx"])["Ratings"]
    shown = []
    for row in sheet.iter_rows(min_row=1):
        shown.append([unescape(c.value) if c.data_type == "s" else
                      c.value.date().isoformat() if c.is_date else f"{c.value:.2f}" for c in row])
    assert shown == csv_rows


def test_manifest_matches_the_bytes_files_get_writes(day, capfd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import hashlib

    result, _instance = day
    manifest = json.loads(files_get(capfd, "manifest", tmp_path))
    assert manifest["partition"] == PARTITION and manifest["contract_version"] == "1.1"
    assert manifest["run_id"] == result.run_id and manifest["generated_at"].endswith("Z")
    names = [f["name"] for f in manifest["files"]]
    assert names == sorted(KINDS.values(), key=str.encode)
    for kind, name in KINDS.items():
        entry = next(f for f in manifest["files"] if f["name"] == name)
        data = files_get(capfd, kind, tmp_path / kind)
        assert entry["bytes"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest(), name
        if kind in ("ratings", "errors"):
            assert entry["rows"] == len(parse_csv(data)) - 1, name  # records, not lines
        elif kind == "parquet":
            assert entry["rows"] == duckdb.sql(f"SELECT count(*) FROM '{tmp_path / kind / name}'").fetchone()[0]
        else:
            assert "rows" not in entry, name
    ratings = parse_csv(read_output(PARTITION, "ratings"))
    assert any("\n" in r[1] for r in ratings)  # a quoted line break: lines and records differ


def test_manifest_is_written_after_every_other_file(day) -> None:  # type: ignore[no-untyped-def]
    writes = [r["file"] for r in audit.records(load_storage().audit_log, None, None) if r["action"] == "write"]
    day_writes = [f for f in writes if YMD in (f or "")]
    assert day_writes[-1] == MANIFEST and set(day_writes[:-1]) == set(KINDS.values())


def test_files_verify_passes_on_the_day(day, capfd) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli(capfd, "files", "verify", PARTITION)
    assert code == 0, err
    assert "6 files match the manifest" in out
    last = list(audit.records(load_storage().audit_log, None, None))[-1]
    assert (last["action"], last["file"], last["outcome"]) == ("verify", MANIFEST, "ok")


def test_files_verify_names_the_first_file_that_differs(fresh_day, capfd) -> None:  # type: ignore[no-untyped-def]
    store = open_store(load_storage())
    store.write(KINDS["errors"], [b"Account ID\r\n"])
    code, _out, err = run_cli(capfd, "files", "verify", PARTITION)
    assert code == 1
    assert err.count("\n") == 1 and KINDS["errors"] in err and "differs from the manifest" in err
    last = list(audit.records(load_storage().audit_log, None, None))[-1]
    assert (last["action"], last["outcome"]) == ("verify", "error")


def test_files_verify_names_a_file_whose_ciphertext_was_altered(fresh_day, capfd) -> None:  # type: ignore[no-untyped-def]
    path = Path(load_storage().output_dir) / (KINDS["parquet"] + ".enc")
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0x01
    path.write_bytes(bytes(blob))
    code, _out, err = run_cli(capfd, "files", "verify", PARTITION)
    assert code == 1 and KINDS["parquet"] in err and err.count("\n") == 1


def test_a_targeted_rerun_rewrites_the_manifest(fresh_day, capfd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    before = json.loads(read_output(PARTITION, "manifest"))
    config = {"ops": {"esg_ratings": {"config": {"account_ids": ["ACC-0000003"]}}}}
    result = run_day(instance=fresh_day, run_config=config, assets=("esg_ratings", "ratings_csv", "daily_summary"))
    assert result.success
    after = json.loads(read_output(PARTITION, "manifest"))
    assert after["run_id"] == result.run_id != before["run_id"]
    changed = {f["name"] for f in after["files"]} - {(f["name"]) for f in before["files"]} | {
        a["name"] for a, b in zip(after["files"], before["files"]) if a["sha256"] != b["sha256"]}
    assert KINDS["ratings"] in changed and KINDS["parquet"] in changed
    code, _out, err = run_cli(capfd, "files", "verify", PARTITION)
    assert code == 0, err


def test_rewriting_the_files_alone_withdraws_the_manifest(fresh_day, capfd) -> None:  # type: ignore[no-untyped-def]
    assert run_day(instance=fresh_day, assets=("ratings_csv",)).success
    assert not open_store(load_storage()).exists(MANIFEST)
    code, _out, err = run_cli(capfd, "files", "verify", PARTITION)
    assert code == 1 and "no manifest" in err
    assert run_day(instance=fresh_day, assets=("daily_summary",)).success
    code, _out, err = run_cli(capfd, "files", "verify", PARTITION)
    assert code == 0, err


def test_a_day_past_the_workbook_row_limit_stores_the_csvs_and_fails_in_one_line(fresh_day, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Excel's sheet holds 1,048,575 rows below the header (lowered here to 5 for a day of 20): the
    system-of-record files are still written by the failing run, its workbook and manifest are not."""
    from esg_assets.outputs import sheet_xml

    store = open_store(load_storage())
    store.delete(KINDS["ratings"], "the test proves the failing run writes it again")
    monkeypatch.setattr(sheet_xml, "MAX_ROWS", 6)
    result = run_day(instance=fresh_day, assets=("ratings_csv",))
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    assert "Excel holds 5 rows below the header, the day has more" in message
    assert "CSVs and Parquet file are stored" in message and "\n" not in message.strip()
    assert len(parse_csv(read_output(PARTITION, "ratings"))) == 21  # the header and 20 accounts
    assert store.exists(KINDS["errors"]) and store.exists(KINDS["parquet"])
    assert not store.exists(KINDS["xlsx"]) and not store.exists(MANIFEST)


def _latest_metadata(instance: dg.DagsterInstance, asset: str) -> dict:
    records = instance.fetch_materializations(dg.AssetKey(asset), limit=1).records
    assert records, asset
    return dict(records[0].asset_materialization.metadata)


def test_each_file_has_its_location_size_and_sha256_in_the_metadata(day) -> None:  # type: ignore[no-untyped-def]
    import hashlib

    _result, instance = day
    ratings, summary = _latest_metadata(instance, "ratings_csv"), _latest_metadata(instance, "daily_summary")
    rows = len(parse_csv(read_output(PARTITION, "ratings"))) - 1
    assert ratings["dagster/row_count"].value == ratings["dagster/partition_row_count"].value == rows == 20
    for kind, metadata in (("ratings", ratings), ("errors", ratings), ("parquet", ratings), ("xlsx", ratings),
                           ("summary", summary), ("report", summary), ("manifest", summary)):
        data = read_output(PARTITION, kind)
        assert metadata[f"{kind}_file"].value == (MANIFEST if kind == "manifest" else KINDS[kind])
        assert metadata[f"{kind}_bytes"].value == len(data)
        assert metadata[f"{kind}_sha256"].value == hashlib.sha256(data).hexdigest()
        location = Path(metadata[f"{kind}_location"].value)
        assert location.name == metadata[f"{kind}_file"].value + ".enc" and location.is_file()
    for asset in ("active_accounts", "esg_ratings"):
        assert _latest_metadata(instance, asset)["dagster/row_count"].value == 20
