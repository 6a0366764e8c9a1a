"""The inline-SVG chart primitives: well-formed, accessible (role, aria-label, title, desc with
the numbers), escaped, and right about geometry at the edges (zero values, gaps, one point)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest

from esg_assets.reporting.svg import (
    Series, bar_chart, esc, fmt_compact, fmt_count, histogram, line_chart, nice_ticks,
)

HOSTILE = '<b>&"x\'</b>'
D0 = date(2026, 10, 29)
D1 = date(2026, 11, 27)


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # raises on anything that is not well-formed
    assert root.tag == "svg"
    assert root.get("role") == "img" and root.get("aria-label")
    assert root[0].tag == "title" and root[0].text == root.get("aria-label")
    assert root[1].tag == "desc"
    assert not re.search(r"(?:href|src)\s*=", svg)
    return root


def test_formatting() -> None:
    assert esc(HOSTILE) == "&lt;b&gt;&amp;&quot;x&#x27;&lt;/b&gt;"
    assert fmt_count(1234567) == "1,234,567"
    assert [fmt_compact(v) for v in (0, 12, 1500, 20000, 2_000_000, 0.25)] == ["0", "12", "1.5k", "20k", "2M", "0.25"]


@pytest.mark.parametrize(
    "lo, hi, kw",
    [(0, 187, {"fixed_lo": True}), (0.9951, 0.9999, {}), (0.9961, 1.0, {"fixed_hi": True}), (5, 5, {}), (0, 0, {"fixed_lo": True}),
     (56.2, 64.9, {}), (1.0, 1.0, {"fixed_hi": True})],
)
def test_nice_ticks_cover_the_range(lo: float, hi: float, kw: dict) -> None:
    ticks = nice_ticks(lo, hi, 4, **kw)
    assert ticks[0] <= lo and ticks[-1] >= hi and ticks[-1] > ticks[0]
    assert ticks == sorted(ticks) and 2 <= len(ticks) <= 12
    if kw.get("fixed_lo"):
        assert ticks[0] == lo
    if kw.get("fixed_hi"):
        assert ticks[-1] == hi


def test_bar_chart_labels_values_and_escaping() -> None:
    svg = bar_chart([("Successful", 99612, "#0a0"), (HOSTILE, 0, "#a00")], title=f"Status {HOSTILE}")
    root = parse(svg)
    assert root.get("aria-label") == f"Status {HOSTILE}"
    assert "Successful: 99,612" in root[1].text and f"{HOSTILE}: 0" in root[1].text
    assert "<b>" not in svg
    widths = [float(r.get("width")) for r in root.iter("rect") if r.find("title") is not None]
    assert widths[0] > 0 and widths[1] == 0


def test_bar_chart_all_zero_and_tiny_values() -> None:
    root = parse(bar_chart([("a", 0, "#000"), ("b", 0, "#000")], title="t"))
    assert all(float(r.get("width")) == 0 for r in root.iter("rect") if r.find("title") is not None)
    root = parse(bar_chart([("a", 1_000_000, "#000"), ("b", 1, "#000")], title="t"))
    tiny = [float(r.get("width")) for r in root.iter("rect") if r.find("title") is not None][1]
    assert tiny >= 2  # a non-zero share never disappears


def test_histogram_bins_and_empty() -> None:
    root = parse(histogram([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], title="Overall", colour="#333"))
    columns = [r for r in root.iter("rect")]
    assert len(columns) == 10
    assert columns[-1].find("title").text == "90–100: 10"
    heights = [float(r.get("height")) for r in columns]
    assert heights == sorted(heights) and heights[0] > 0
    assert "55 values" in "".join(root.itertext())
    root = parse(histogram([0] * 10, title="Overall", colour="#333"))
    assert "no values" in "".join(root.itertext())


def days(n: int) -> list[date]:
    return [D1 - timedelta(days=n - 1 - i) for i in range(n)]


def test_line_chart_series_gaps_threshold_and_legend() -> None:
    pts = list(zip(days(5), [0.02, 0.03, None, 0.06, 0.04]))
    svg = line_chart(
        [Series("Call failure rate", pts, "#c00"), Series("Other <series>", pts, "#00c", "4 2")],
        title="Call failure rate", first_day=D0, last_day=D1, y_min=0, threshold=(0.05, "5 % alert threshold"),
    )
    root = parse(svg)
    assert len(list(root.iter("polyline"))) == 4  # the gap splits each line in two
    assert len(list(root.iter("circle"))) == 8
    rule = [e for e in root.iter("line") if e.get("class") == "threshold"]
    assert len(rule) == 1 and rule[0].find("title").text == "5 % alert threshold"
    assert "Other <series>" in "".join(root.itertext())  # legend text, escaped in the source
    assert "<series>" not in svg
    assert "2026-11-27 0.04" in root[1].text


def test_line_chart_threshold_is_inside_the_plot() -> None:
    root = parse(line_chart([Series("r", [(D1, 0.0)], "#c00")], title="t", first_day=D0, last_day=D1, y_min=0,
                            threshold=(0.05, "5 %")))
    rule = next(e for e in root.iter("line") if e.get("class") == "threshold")
    ys = [float(e.get("y1")) for e in root.iter("line") if e.get("stroke") == "#d9dde3"]
    assert min(ys) < float(rule.get("y1")) < max(ys)


def test_line_chart_one_point_and_no_point() -> None:
    root = parse(line_chart([Series("x", [(D1, 5.0)], "#000")], title="t", first_day=D0, last_day=D1))
    (dot,) = root.iter("circle")
    assert dot.get("r") == "4"
    assert not list(root.iter("polyline"))
    assert "one day of history so far" in "".join(root.itertext())
    root = parse(line_chart([Series("x", [(D1, None)], "#000")], title="t", first_day=D0, last_day=D1))
    assert "no data" in "".join(root.itertext()) and not list(root.iter("circle"))


def test_line_chart_points_stay_inside_the_view_box() -> None:
    pts = list(zip(days(30), [100000 * (i % 3) for i in range(30)]))
    root = parse(line_chart([Series("n", pts, "#000")], title="t", first_day=D0, last_day=D1, y_min=0))
    _, _, w, h = map(float, root.get("viewBox").split())
    for c in root.iter("circle"):
        assert 0 <= float(c.get("cx")) <= w and 0 <= float(c.get("cy")) <= h


def test_legend_wraps_instead_of_overflowing() -> None:
    names = ["Overall", "Environmental", "Social", "Governance", "A rather long series name"]
    root = parse(line_chart([Series(n, [(D1, 1.0)], "#000") for n in names], title="t", first_day=D0, last_day=D1, width=300))
    legend = [t for t in root.iter("text") if t.text in names]
    assert len(legend) == len(names)
    assert len({t.get("y") for t in legend}) >= 2
    assert all(float(t.get("x")) + 6.2 * len(t.text) <= 300 for t in legend)
