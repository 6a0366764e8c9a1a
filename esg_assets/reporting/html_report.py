"""The daily HTML report `FirmESGReport_YYYYMMDD.html` (docs/spec.md#report).

One self-contained page for compliance officers and administrators: CSS in a `<style>` element,
charts as inline SVG, no script, style, font or image fetched from anywhere. Every figure shown in
a chart also appears as text or in a table, and the headline figures carry
`data-figure="<summary key path>"` / `data-value="<JSON value>"` attributes; the whole summary is
embedded as JSON in `<script type="application/json" id="esg-summary">` (data, never executed), so
tools can read the figures back without scraping.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from esg_assets.domain.summary import Summary
from esg_assets.names import threshold_exceeded
from esg_assets.reporting import sections
from esg_assets.reporting.fmt import figure, generated_text, long_date, pct, score
from esg_assets.reporting.style import CSS
from esg_assets.reporting.svg import esc, fmt_count
from esg_assets.storage.names import logical_name

TREND_DAYS = 30


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)  # as the summary file writes it
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_script(element_id: str, data: object) -> str:
    """`data` as an inert JSON data block. `<`, `>` and `&` are written as \\u escapes, so no
    value (an account ID holding `</script>`) can end the element early; JSON reads them back."""
    text = json.dumps(data, ensure_ascii=False, default=_json_default, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="{esc(element_id)}">{text}</script>'


def _tile(label: str, body: str, sub: str = "", accent: str = "#5b6470", extra_class: str = "") -> str:
    sub_html = f'<div class="sub">{sub}</div>' if sub else ""
    return (
        f'<div class="tile {extra_class}" style="border-top-color:{accent}">'
        f'<div class="label">{esc(label)}</div>{body}{sub_html}</div>'
    )


def headline(summary: Summary) -> str:
    """The key figures as tiles: counts, rates and average scores."""
    c = summary.status_counts
    total = summary.total_accounts
    called = summary.accounts_called
    rate = summary.call_failure_rate
    above = rate is not None and threshold_exceeded(Decimal(str(rate)))
    limit_note = (
        '<span class="badge bad">above the 5&nbsp;% limit: alert sent</span>'
        if above
        else '<span class="badge ok">within the 5&nbsp;% limit</span>'
    )

    def share(n: int) -> str:
        return f"{esc(pct(Decimal(n) / Decimal(total)))} of accounts" if total else "no accounts"

    tiles = [
        _tile("Total accounts", figure("total_accounts", total, fmt_count(total)),
              f"{figure('accounts_called', called, fmt_count(called), 'inline')} called · "
              f"{figure('carried_forward', summary.carried_forward, fmt_count(summary.carried_forward), 'inline')} carried forward"),
        _tile("Successful", figure("status_counts.Successful", c["Successful"], fmt_count(c["Successful"])),
              share(c["Successful"]), sections.STATUS_COLOURS["Successful"]),
        _tile("Partial", figure("status_counts.Partial", c["Partial"], fmt_count(c["Partial"])),
              share(c["Partial"]), sections.STATUS_COLOURS["Partial"]),
        _tile("Failed", figure("status_counts.Failed", c["Failed"], fmt_count(c["Failed"])),
              share(c["Failed"]), sections.STATUS_COLOURS["Failed"]),
        _tile("Success rate", figure("success_rate", summary.success_rate, pct(summary.success_rate)),
              "Successful ÷ total accounts"),
        _tile("Call failure rate", figure("call_failure_rate", rate, pct(rate)),
              f"Failed ÷ accounts called<br>{limit_note}", "#c62828" if above else "#5b6470",
              "alert" if above else ""),
    ]
    averages = [
        _tile(f"Average {label}", figure(f"average_scores.{key}", summary.average_scores[key],
                                         score(summary.average_scores[key])),
              "mean of the scores present (0–100)", sections.SCORE_COLOURS[key])
        for key, label in sections.SCORE_LABELS.items()
    ]
    return (
        '<section aria-labelledby="h-key"><h2 id="h-key">Key figures</h2>'
        f'<div class="tiles">{"".join(tiles)}</div><div class="tiles averages">{"".join(averages)}</div></section>'
    )


def render_report(
    summary: Summary, score_histograms: dict[str, list[int]], history: Sequence[dict[str, Any]]
) -> bytes:
    """The report page as UTF-8 bytes. `summary` is `build_summary`'s record (or the summary
    file read back with `Summary.from_json`), `score_histograms` comes from `state.trends.score_histograms` and
    `history` from `state.trends.history` (ascending, one row per partition)."""
    partition = str(summary.partition)
    try:
        day = date.fromisoformat(partition)
        title_date, file_name = long_date(day), logical_name(partition, "report")
    except ValueError:  # not a partition key: still render, never trust it into a name
        day, title_date, file_name = None, partition, "FirmESGReport"
    first_day = (day or date.today()) - timedelta(days=TREND_DAYS - 1)
    title = f"ESG ratings report — {title_date}"
    body = [
        '<header><div class="kicker">Firm-wide ESG ratings · daily report · confidential</div>'
        f"<h1>{esc(title)}</h1>"
        f'<p class="meta">Partition {figure("partition", partition, partition, "inline")} · generated '
        f'{figure("generated_at", summary.generated_at, generated_text(summary.generated_at), "inline")}'
        f" · {esc(file_name)}</p></header>",
        headline(summary),
        sections.carry_check(summary),
        sections.day_charts(summary),
        sections.distributions(score_histograms),
        sections.trends(history, first_day, day or date.today()),
        sections.failed_list(summary.failed_accounts, partition),
        '<footer><p>Produced by the ESG ratings job. The same figures are in '
        f"{esc(file_name.replace('FirmESGReport', 'FirmESGSummary').replace('.html', '.json'))}; "
        "every rating is in the ratings CSV of the same date, every failure and its reason in the error CSV. "
        "Contains client account data: handle as confidential.</p></footer>",
    ]
    page = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # Nothing is loaded from anywhere: no referrer, no prefetch, no script execution.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; img-src data:">',
        f"<title>{esc(title)}</title>",
        f"<style>{CSS}</style>",
        json_script("esg-summary", summary.to_dict()),
        json_script("esg-report-data", {"score_histograms": score_histograms, "history": list(history)}),
        "</head><body><main>",
        *body,
        "</main></body></html>",
    ]
    return ("\n".join(page) + "\n").encode("utf-8")
