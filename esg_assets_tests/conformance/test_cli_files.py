"""The day's Parquet file, workbook and manifest as an outside suite sees them (contract 1.1
§3c-§3e, configuration.md `files get --kind parquet|xlsx|manifest`): the job run with
`dagster asset materialize`, every file fetched with `esg-ratings files get` as a subprocess, and
each checked against values written out here by hand, never computed by the job's code. The
accounts have names a spreadsheet would mistake for formulas, numbers or dates."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import openpyxl
import pytest
from openpyxl.utils.escape import unescape

from esg_assets_tests.conformance import worlds as w
from esg_assets_tests.conformance.harness import BIN, Day, files_get, job_env, parallel, sh
from esg_assets_tests.conformance.upstream import Reply, Upstream, World

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
DAY = "2026-11-24"
NAMES = {"XLS-001": '=HYPERLINK("http://x.example","Click")', "XLS-002": "+44 20 7946 0000",
         "XLS-003": "-1+2", "XLS-004": "@SUM(A1)", "XLS-005": "N/A", "XLS-006": "Müller, \"Ünal\" & Co\r\nLtd"}
FILES = {"ratings": "FirmESGRatings_20261124.csv", "errors": "FirmESGErrors_20261124.csv",
         "summary": "FirmESGSummary_20261124.json", "report": "FirmESGReport_20261124.html",
         "parquet": "FirmESGRatings_20261124.parquet", "xlsx": "FirmESGRatings_20261124.xlsx",
         "manifest": "FirmESGManifest_20261124.json"}
D = date(2026, 11, 24)
# (id, name, overall, env, social, gov, focus, focus score, analysis date, status), as the contract says
EXPECTED = [
    ("XLS-001", NAMES["XLS-001"], "72.46", "68.10", "75.00", "74.32", "Social", "75.00", D, "Successful"),
    ("XLS-002", NAMES["XLS-002"], None, None, None, None, None, None, None, "Failed"),
    ("XLS-003", NAMES["XLS-003"], None, "40.00", "41.00", "42.00", "Governance", "42.00", D, "Partial"),
    ("XLS-004", NAMES["XLS-004"], "80.00", "0.00", "100.00", "50.01", "Environmental", "0.00", D, "Successful"),
    ("XLS-005", NAMES["XLS-005"], "1.00", "2.00", "3.00", "4.00", "Governance", "4.00", D, "Successful"),
    ("XLS-006", NAMES["XLS-006"], "12.35", "1.00", "2.00", "3.00", "Environmental", "1.00", D, "Successful"),
]


def the_world() -> World:
    analyses = {
        "XLS-001": [w.ok("XLS-001", "72.455", "68.1", "75", "74.324999", "Social", "75", DAY)],
        "XLS-002": [Reply(404, '{"error": "not_covered"}')],
        "XLS-003": [Reply(200, w.analysis("XLS-003", w.four(None, "40", "41", "42"), w.focus("Governance", "42"), DAY))],
        "XLS-004": [w.ok("XLS-004", "80", "0", "100", "50.005", "Environmental", "0", DAY)],
        "XLS-005": [w.ok("XLS-005", "1", "2", "3", "4", "Governance", "4", DAY)],
        "XLS-006": [w.ok("XLS-006", "12.345", "1", "2", "3", "Environmental", "1", DAY)],
    }
    return World(accounts=[w.acct(a, n) for a, n in NAMES.items()], analyses=analyses, expires_in=3600)


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], dict[str, bytes], Path]]:
    with Upstream(the_world()).running() as upstream:
        env = job_env(tmp_path_factory.mktemp("files-home"), upstream)
        out = tmp_path_factory.mktemp("files-out")
        Day(upstream, env, DAY, out / "day")

        def one(kind: str) -> bytes:
            done = files_get(env, DAY, kind, out / kind)
            assert done.returncode == 0, done.stdout + done.stderr
            return (out / kind / FILES[kind]).read_bytes()

        yield env, dict(zip(FILES, parallel(one, FILES))), out


def test_parquet_has_the_typed_columns_and_the_rows_of_the_csv(day) -> None:  # type: ignore[no-untyped-def]
    _env, _got, out = day
    rel = duckdb.sql(f"SELECT * FROM read_parquet('{out / 'parquet' / FILES['parquet']}')")
    assert list(zip(rel.columns, map(str, rel.types))) == [
        ("account_id", "VARCHAR"), ("account_name", "VARCHAR"), ("overall_score", "DECIMAL(5,2)"),
        ("environmental_score", "DECIMAL(5,2)"), ("social_score", "DECIMAL(5,2)"), ("governance_score", "DECIMAL(5,2)"),
        ("primary_esg_focus", "VARCHAR"), ("primary_focus_score", "DECIMAL(5,2)"), ("analysis_date", "DATE"),
        ("processing_status", "VARCHAR"), ("partition_date", "DATE")]
    dec = [2, 3, 4, 5, 7]
    expected = [tuple(Decimal(v) if i in dec and v is not None else v for i, v in enumerate(r)) + (D,) for r in EXPECTED]
    assert rel.fetchall() == expected


def test_workbook_cells_are_text_numbers_and_dates_never_formulas(day) -> None:  # type: ignore[no-untyped-def]
    _env, got, out = day
    book = openpyxl.load_workbook(out / "xlsx" / FILES["xlsx"])
    assert book.sheetnames == ["Ratings"]
    sheet = book["Ratings"]
    assert [c.value for c in sheet[1]] == got["ratings"].decode().split("\r\n", 1)[0].split(",")
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:J7"
    for r, expected in enumerate(EXPECTED, 2):
        cells = sheet[r]
        for c in (0, 1, 6, 9):
            want = expected[c] if expected[c] is not None else "N/A"
            assert cells[c].data_type == "s" and unescape(cells[c].value) == want, (r, c)
        for c in (2, 3, 4, 5, 7):
            if expected[c] is None:
                assert (cells[c].data_type, cells[c].value) == ("s", "N/A"), (r, c)
            else:
                assert cells[c].data_type == "n" and cells[c].number_format == "0.00", (r, c)
                assert f"{cells[c].value:.2f}" == expected[c], (r, c)
        if expected[8] is None:
            assert cells[8].value == "N/A"
        else:
            assert cells[8].is_date and cells[8].number_format == "yyyy-mm-dd"
            assert cells[8].value == datetime(2026, 11, 24)


def test_manifest_lists_every_file_with_the_bytes_files_get_writes(day) -> None:  # type: ignore[no-untyped-def]
    _env, got, _out = day
    manifest = json.loads(got["manifest"])
    assert (manifest["partition"], manifest["contract_version"]) == (DAY, "1.1")
    assert [f["name"] for f in manifest["files"]] == sorted((n for k, n in FILES.items() if k != "manifest"), key=str.encode)
    rows = {"ratings": 6, "errors": 2, "parquet": 6}  # errors: the Failed and the Partial account
    for kind, name in FILES.items():
        if kind == "manifest":
            continue
        entry = next(f for f in manifest["files"] if f["name"] == name)
        assert (entry["bytes"], entry["sha256"]) == (len(got[kind]), hashlib.sha256(got[kind]).hexdigest()), kind
        assert entry.get("rows") == rows.get(kind), kind


def test_files_verify_passes_then_names_a_changed_file(day) -> None:  # type: ignore[no-untyped-def]
    env, _got, _out = day
    done = sh([str(BIN / "esg-ratings"), "files", "verify", DAY], env)
    assert done.returncode == 0 and "6 files match the manifest" in done.stdout, done.stderr
    store = Path(env["ESG_OUTPUT_DIR"])
    (store / (FILES["report"] + ".enc")).unlink()
    done = sh([str(BIN / "esg-ratings"), "files", "verify", DAY], env)
    assert done.returncode == 1 and FILES["report"] in done.stderr and done.stderr.count("\n") == 1
