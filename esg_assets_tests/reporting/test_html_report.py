"""The daily HTML report: its figures read back exactly (data-figure attributes and the embedded
summary JSON), it loads nothing from outside, every chart is there and accessible, every text is
escaped, and the edge days (no accounts, all failed, no averages, no or one day of history,
thousands of failures) still render a complete page."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest

from esg_assets.domain.carry_check import CarryCheck
from esg_assets.domain.summary import Summary, build_summary
from esg_assets.reporting import render_report

PARTITION = "2026-11-27"
SCORES = ("overall", "environmental", "social", "governance")
DAY_CHARTS = 3  # status, primary focus, called vs carried forward
HISTOGRAMS = 4
TRENDS = 7  # averages, success rate, call failure rate, duration, requests, carry check, carried forward


def make_summary(*, total: int = 100000, partial: int = 201, failed: list[str] | None = None, called: int = 4210,
                 partition: str = PARTITION, scores: bool = True) -> Summary:
    failed = ["ACC-0000017", "ACC-0000342", "ACC-0098765"] if failed is None else failed
    successful = total - partial - len(failed)
    return build_summary(
        partition=partition,
        generated_at="2026-11-27T11:02:13Z",
        total_accounts=total,
        status_counts={"Successful": successful, "Partial": partial, "Failed": len(failed)},
        accounts_called=called,
        carried_forward=total - called,
        score_sums={k: (Decimal("6118596.123456"), successful + partial) for k in SCORES} if scores else {},
        focus_counts={"Environmental": 40211, "Social": 31877, "Governance": max(0, successful + partial - 72088)} if scores else {},
        failed_accounts=sorted(failed),
        api={"requests": 4602, "retries": 392, "rate_limited": 3, "token_refreshes": 1},
        duration_seconds=812.44,
    )


def make_histograms(scale: int = 1) -> dict[str, list[int]]:
    return {k: [i * i * scale for i in range(10)] for k in SCORES}


def make_history(days: int = 30, end: str = PARTITION) -> list[dict[str, Any]]:
    last = date.fromisoformat(end)
    rows = []
    for i in range(days):
        d = last - timedelta(days=days - 1 - i)
        rows.append({
            "partition": d.isoformat(), "run_id": f"run-{i}", "started_at": f"{d}T11:00:00Z", "ended_at": f"{d}T11:14:00Z",
            "duration_seconds": 800.0 + i, "total_accounts": 100000, "successful": 99500, "partial": 300, "failed": 200,
            "accounts_called": 4000 + i, "carried_forward": 96000 - i, "success_rate": 0.995, "call_failure_rate": 0.02 + i / 1000,
            "avg_overall": 61.37, "avg_environmental": 58.02, "avg_social": None if i == 3 else 63.9, "avg_governance": 62.21,
            "requests": 4600 + i, "retries": 300, "rate_limited": 0, "token_refreshes": 1,
            "carry_check_sampled": 20, "carry_check_differed": 1 if i == 12 else 0,
        })
    return rows


class Page(HTMLParser):
    """What the tests read back: data-figure values, JSON blocks, SVG titles, list items, text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.figures: dict[str, Any] = {}
        self.figure_text: dict[str, str] = {}
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.svgs: list[dict[str, str | None]] = []
        self.svg_titles: list[str] = []
        self.failed_items: list[str] = []
        self.text: list[str] = []
        self._stack: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if "data-value" in a:
            self.figures[a["data-figure"]] = json.loads(a["data-value"])
        if tag == "svg":
            self.svgs.append(a)
        if tag not in ("meta", "br"):
            self._stack.append((tag, a))

    def handle_endtag(self, tag: str) -> None:
        while self._stack and self._stack.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        if not self._stack:
            return
        tag, a = self._stack[-1]
        if tag == "script":
            self.scripts.append((a, data))
            return
        self.text.append(data)
        if "data-figure" in a and "data-value" in a:
            self.figure_text[a["data-figure"]] = self.figure_text.get(a["data-figure"], "") + data
        if tag == "title" and len(self._stack) > 1 and self._stack[-2][0] == "svg":
            self.svg_titles.append(data)
        if tag == "li" and len(self._stack) > 1 and self._stack[-2][1].get("data-figure") == "failed_accounts":
            self.failed_items.append(data)

    def json_block(self, element_id: str) -> Any:
        (data,) = [d for a, d in self.scripts if a.get("id") == element_id]
        return json.loads(data)


def resolve(summary: Summary, path: str) -> Any:
    value: Any = summary.to_dict()
    for part in path.split("."):
        value = value[part]
    return float(value) if isinstance(value, Decimal) else value


def render(summary: Summary, histograms: dict[str, list[int]] | None = None, history: list | None = None) -> str:
    data = render_report(summary, make_histograms() if histograms is None else histograms,
                         make_history() if history is None else history)
    assert isinstance(data, bytes)
    return data.decode("utf-8")


EXTERNAL = [
    re.compile(r"""\b(?:src|href|xlink:href|action|poster|data)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:|//)""", re.I),
    re.compile(r"""url\(\s*["']?\s*(?:[a-z][a-z0-9+.-]*:|//)""", re.I),
    re.compile(r"<link\b", re.I),
    re.compile(r"<script\b[^>]*\bsrc\b", re.I),
    re.compile(r"@import", re.I),
    re.compile(r"<(?:iframe|object|embed|img|image|use|audio|video|source)\b", re.I),
]


def assert_self_contained(html: str) -> None:
    for pattern in EXTERNAL:
        assert not pattern.search(html), pattern.pattern
    for attrs in re.findall(r"<script\b([^>]*)>", html, re.I):
        assert 'type="application/json"' in attrs


def test_figures_read_back_equal_to_the_summary() -> None:
    summary = make_summary()
    page = Page(render(summary))
    expected = {
        "partition", "generated_at", "total_accounts", "accounts_called", "carried_forward", "success_rate", "call_failure_rate",
        "duration_seconds", *(f"status_counts.{s}" for s in ("Successful", "Partial", "Failed")),
        *(f"average_scores.{k}" for k in SCORES), *(f"api.{k}" for k in ("requests", "retries", "rate_limited", "token_refreshes")),
        *(f"primary_focus_distribution.{p}" for p in ("Environmental", "Social", "Governance")),
    }
    assert expected <= set(page.figures)
    for path, value in page.figures.items():
        if path == "failed_accounts.count":
            assert value == len(summary.failed_accounts)
        else:
            assert value == resolve(summary, path), path
    assert page.figure_text["total_accounts"] == "100,000"
    assert page.figure_text["success_rate"] == "99.80\u00a0%"
    assert page.figure_text["average_scores.overall"] == str(summary.average_scores["overall"]) == "61.19"
    assert page.figure_text["duration_seconds"] == "13 min 32 s"
    assert page.json_block("esg-summary") == json.loads(summary.to_json())
    assert page.failed_items == list(summary.failed_accounts)
    data = page.json_block("esg-report-data")
    assert data["score_histograms"] == make_histograms() and data["history"] == make_history()


def test_no_external_resource() -> None:
    html = render(make_summary())
    assert_self_contained(html)
    assert "http://" not in html and "https://" not in html
    assert re.search(r"<style>[^<]+</style>", html)
    assert "Content-Security-Policy" in html and "default-src 'none'" in html


def test_every_chart_is_present_and_labelled() -> None:
    page = Page(render(make_summary()))
    assert len(page.svgs) == DAY_CHARTS + HISTOGRAMS + TRENDS
    assert all(s.get("role") == "img" and s.get("aria-label") for s in page.svgs)
    assert page.svg_titles == [s["aria-label"] for s in page.svgs]
    for title in ("Processing status of 100,000 accounts", "Primary ESG focus of the rated accounts",
                  "Accounts called versus carried forward", "Distribution of Overall scores",
                  "Distribution of Environmental scores", "Distribution of Social scores",
                  "Distribution of Governance scores", "Average scores", "Success rate", "Call failure rate",
                  "Run duration (minutes)", "Requests to the ESG API", "Accounts carried forward and called"):
        assert title in page.svg_titles
    html = render(make_summary())
    failure_chart = html[html.index('aria-label="Call failure rate"'):]
    failure_chart = failure_chart[: failure_chart.index("</svg>")]
    assert 'class="threshold"' in failure_chart and "5 % alert threshold" in failure_chart
    text = " ".join(Page(html).text)
    assert "ESG ratings report — Friday 27 November 2026" in text
    for heading in ("Key figures", "Status breakdown", "Primary ESG focus", "ESG API calls", "Distribution of scores",
                    "Trends over the last 30 days", "Failed accounts"):
        assert heading in text


def test_hostile_texts_are_escaped() -> None:
    evil = ['</script><script>alert(1)</script>', '"><img src=x onerror=alert(2)>', "ACC-&amp;-'quote'"]
    summary = make_summary(failed=evil, partition='2026-11-27"><script>alert(3)</script>')
    html = render(summary, history=[])
    assert "<script>alert" not in html and "<img" not in html and "onerror=alert(2)>" not in html
    assert_self_contained(html)
    page = Page(html)
    assert page.failed_items == sorted(evil)
    assert page.json_block("esg-summary")["failed_accounts"] == sorted(evil)
    assert page.figures["partition"] == summary.partition
    assert len([d for _, d in page.scripts]) == 2


def test_no_accounts() -> None:
    summary = make_summary(total=0, partial=0, failed=[], called=0, scores=False)
    html = render(summary, {k: [0] * 10 for k in SCORES}, [])
    page = Page(html)
    assert page.figures["total_accounts"] == 0 and page.figures["success_rate"] == 0 and page.figures["call_failure_rate"] == 0
    for k in SCORES:
        assert page.figures[f"average_scores.{k}"] is None
        assert page.figure_text[f"average_scores.{k}"] == "n/a"
    text = " ".join(page.text)
    assert "No job history is recorded" in text and "None: every account of the day has a rating." in text
    assert len(page.svgs) == DAY_CHARTS + HISTOGRAMS  # no trend charts without history
    assert "no values" in html
    assert page.json_block("esg-summary") == json.loads(summary.to_json())
    assert_self_contained(html)


def test_all_failed_is_flagged_above_the_threshold() -> None:
    failed = [f"ACC-{i:07d}" for i in range(50)]
    summary = make_summary(total=50, partial=0, failed=failed, called=50, scores=False)
    page = Page(render(summary, {k: [0] * 10 for k in SCORES}))
    assert page.figures["status_counts.Failed"] == 50 and page.figures["call_failure_rate"] == 1.0
    assert page.figure_text["call_failure_rate"] == "100.00\u00a0%"
    assert "above the 5\u00a0% limit: alert sent" in " ".join(page.text)
    assert page.failed_items == failed


@pytest.mark.parametrize("rate, above", [("0.0500", False), ("0.0501", True)])
def test_the_5_percent_rule_is_strictly_greater(rate: str, above: bool) -> None:
    summary = replace(make_summary(), call_failure_rate=Decimal(rate))
    text = " ".join(Page(render(summary)).text)
    assert ("above the 5\u00a0% limit" in text) is above and ("within the 5\u00a0% limit" in text) is not above


def test_one_day_of_history() -> None:
    html = render(make_summary(), history=make_history(days=1))
    page = Page(html)
    assert len(page.svgs) == DAY_CHARTS + HISTOGRAMS + TRENDS
    assert "Only one day of history so far" in " ".join(page.text)
    assert 'r="4"' in html and "<polyline" not in html


def test_every_failed_account_is_listed_compactly() -> None:
    failed = [f"ACC-{i:07d}" for i in range(5000)]
    summary = make_summary(failed=failed)
    html = render(summary)
    page = Page(html)
    assert page.failed_items == failed
    assert page.figures["failed_accounts.count"] == 5000
    assert 'class="failed compact"' in html


def test_summary_read_back_from_its_json_file_renders_the_same_figures() -> None:
    summary = make_summary()
    from_file = Summary.from_json(summary.to_json())  # the file read back, as the report's readers do
    assert Page(render(from_file)).figures == Page(render(summary)).figures


def test_the_carry_forward_check_line_and_its_trend() -> None:
    summary = replace(make_summary(), carry_check=CarryCheck(sampled=20, matched=19, differed=("ACC-0004711",)))
    html = render(summary)
    text = " ".join(Page(html).text)
    assert "20 carried rows re-checked against the API: 19 matched, 1 differed: ACC-0004711." in text
    assert "Carried rows that differed from the API (daily check)" in Page(html).svg_titles
    assert "Check differed" in text  # the trend's table column
    assert "No carried rows were re-checked against the API today." in " ".join(Page(render(make_summary())).text)
