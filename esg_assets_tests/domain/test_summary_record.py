"""The daily summary as a frozen record (`domain.summary.Summary`): `to_json()` writes exactly
the bytes the dict-based code wrote before it (golden files made by that code from the inputs
below: key order, indentation, number formats, the rounding of the duration), and so do the
views built from it (the Markdown in the UI, the HTML report, also when rendered from the file
read back, the Prometheus textfile, the job-history row); `from_json()` reads a file back to the same record, and a file that is not a
summary is refused in one line."""

from __future__ import annotations

import hashlib
import json
from dataclasses import FrozenInstanceError, replace
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from esg_assets.domain.carry_check import CarryCheck
from esg_assets.domain.summary import Summary, build_summary, summary_markdown
from esg_assets.observability import prometheus_text
from esg_assets.reporting import render_report
from esg_assets.state.history_repo import record_history
from esg_assets.state.schema import migrate

GOLDEN = Path(__file__).parent / "golden"


CASES = {
    "summary_typical.json": dict(
        partition="2026-11-27", generated_at="2026-11-27T11:02:13Z", total_accounts=100000,
        status_counts={"Successful": 99796, "Partial": 201, "Failed": 3}, accounts_called=4210, carried_forward=95790,
        score_sums={"overall": (Decimal("6118596.123456"), 99997), "environmental": (Decimal("5801234.5"), 99997),
                    "social": (Decimal("6390000.005"), 99990), "governance": (Decimal("99997.00"), 99997)},
        focus_counts={"Environmental": 40211, "Social": 31877, "Governance": 27909},
        failed_accounts=["ACC-0000017", "ACC-0000342", "ACC-0098765"],
        api={"requests": 4602, "retries": 392, "rate_limited": 3, "token_refreshes": 1}, duration_seconds=812.44,
        carry_check={"sampled": 20, "matched": 18, "differed": ["ACC-0004711"], "unverified": ["ACC-0000100"]},
    ),
    "summary_empty_day.json": dict(
        partition="2026-01-01", generated_at="2026-01-01T11:00:00Z", total_accounts=0, status_counts={},
        accounts_called=0, carried_forward=0, score_sums={}, focus_counts={}, failed_accounts=[], api={},
        duration_seconds=0.04,
    ),
    "summary_all_failed.json": dict(
        partition="2026-02-28", generated_at="2026-02-28T23:59:59Z", total_accounts=3, status_counts={"Failed": 3},
        accounts_called=3, carried_forward=0, score_sums={}, focus_counts={},
        failed_accounts=["A-1", "B_2", "c3"], api={"requests": 9, "retries": 6}, duration_seconds=14399.96,
    ),
    "summary_rounding.json": dict(
        partition="2026-11-28", generated_at="2026-11-28T11:00:00Z", total_accounts=7,
        status_counts={"Successful": 5, "Partial": 1, "Failed": 1}, accounts_called=3, carried_forward=4,
        score_sums={"overall": (Decimal("350.005"), 6), "environmental": (Decimal("100"), 3),
                    "social": (Decimal("0.03"), 6), "governance": (Decimal("599.97"), 6)},
        focus_counts={"Social": 6}, failed_accounts=["ACC-0000007"],
        api={"requests": 3, "retries": 0, "rate_limited": 0, "token_refreshes": 0}, duration_seconds=1.25,
        carry_check={"sampled": 2, "matched": 2, "differed": [], "unverified": []},
    ),
}

HISTOGRAMS = {k: [i * i for i in range(10)] for k in ("overall", "environmental", "social", "governance")}


def history(end: str = "2026-11-27", days: int = 5) -> list[dict]:
    from datetime import date, timedelta
    last = date.fromisoformat(end)
    rows = []
    for i in range(days):
        d = last - timedelta(days=days - 1 - i)
        rows.append({"partition": d.isoformat(), "run_id": f"run-{i}", "started_at": f"{d}T11:00:00Z",
                     "ended_at": f"{d}T11:14:00Z", "duration_seconds": 800.0 + i, "total_accounts": 100000,
                     "successful": 99500, "partial": 300, "failed": 200, "accounts_called": 4000 + i,
                     "carried_forward": 96000 - i, "success_rate": 0.995, "call_failure_rate": 0.02 + i / 1000,
                     "avg_overall": 61.37, "avg_environmental": 58.02, "avg_social": None if i == 3 else 63.9,
                     "avg_governance": 62.21, "requests": 4600 + i, "retries": 300, "rate_limited": 0,
                     "token_refreshes": 1, "carry_check_sampled": 20, "carry_check_differed": 1 if i == 2 else 0})
    return rows


def summary_of(name: str) -> Summary:
    kw = dict(CASES[name])
    check = kw.pop("carry_check", None)
    return build_summary(**kw, carry_check=None if check is None else CarryCheck(
        sampled=check["sampled"], matched=check["matched"], differed=tuple(check["differed"]),
        unverified=tuple(check["unverified"])))


@pytest.mark.parametrize("name", sorted(CASES))
def test_to_json_writes_the_bytes_of_the_dict_based_code(name: str) -> None:
    assert summary_of(name).to_json() == (GOLDEN / name).read_bytes()


@pytest.mark.parametrize("name", sorted(CASES))
def test_from_json_reads_the_file_back_to_the_same_record(name: str) -> None:
    data = (GOLDEN / name).read_bytes()
    back = Summary.from_json(data)
    assert back == summary_of(name)
    assert back.to_json() == data
    assert isinstance(back.success_rate, Decimal) and isinstance(back.duration_seconds, float)


@pytest.mark.parametrize("stem", ["summary_typical", "summary_empty_day"])
def test_the_views_of_the_record_are_unchanged(stem: str) -> None:
    summary = summary_of(f"{stem}.json")
    assert summary_markdown(summary) == (GOLDEN / f"{stem}.md").read_text()
    # The pages are kept as their size and SHA-256 (the page repeats the report's whole CSS).
    page = json.loads((GOLDEN / "summary_reports.json").read_text())[f"{stem}.html"]
    for html in (render_report(summary, HISTOGRAMS, history(summary.partition)),
                 render_report(Summary.from_json(summary.to_json()), HISTOGRAMS, history(summary.partition))):
        assert {"bytes": len(html), "sha256": hashlib.sha256(html).hexdigest()} == page
    assert prometheus_text(summary, now=1764000000.5) == (GOLDEN / f"{stem}.prom").read_text()


def test_the_job_history_rows_are_unchanged() -> None:
    con = duckdb.connect(":memory:")
    migrate(con)
    for name in ("summary_typical.json", "summary_empty_day.json"):
        record_history(con, summary_of(name), run_id="run-" + name,
                       started_at=datetime(2026, 11, 27, 11, 0, 0, 500000, tzinfo=timezone.utc),
                       ended_at=datetime(2026, 11, 27, 11, 13, 32, tzinfo=timezone.utc))
    cur = con.execute("SELECT * FROM job_history ORDER BY partition")
    cols = [d[0] for d in cur.description]
    rows = [dict(zip(cols, [None if v is None else str(v) for v in r])) for r in cur.fetchall()]
    assert rows == json.loads((GOLDEN / "job_history_rows.json").read_text())


def test_the_record_cannot_be_changed() -> None:
    summary = summary_of("summary_typical.json")
    with pytest.raises(FrozenInstanceError):
        summary.total_accounts = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        summary.status_counts["Failed"] = 0  # type: ignore[index]
    assert replace(summary, total_accounts=1).total_accounts == 1 and summary.total_accounts == 100000


@pytest.mark.parametrize(("data", "message"), [
    (b"{not json", "the summary is not valid JSON"),
    (b"[]", "the summary lacks partition, generated_at"),
    (json.dumps({k: v for k, v in json.loads((GOLDEN / "summary_typical.json").read_bytes()).items()
                 if k != "carry_check"}).encode(), "the summary lacks carry_check"),
])
def test_a_file_that_is_not_a_summary_is_refused_in_one_line(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        Summary.from_json(data)
    assert "\n" not in str(err.value)
