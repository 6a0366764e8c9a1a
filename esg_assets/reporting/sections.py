"""The report's sections below the key figures: the day's charts, the score distributions, the
30-day trends and the failed accounts. Each function returns one `<section>`; every chart is
followed by the same numbers as a small table, so nothing is only in a picture."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from esg_assets.domain.summary import Summary
from esg_assets.names import MAX_CALL_FAILURE_RATE
from esg_assets.reporting.fmt import duration, figure, pct, score
from esg_assets.reporting.svg import Series, bar_chart, esc, fmt_compact, fmt_count, histogram, line_chart

STATUS_COLOURS = {"Successful": "#2e7d32", "Partial": "#d98c00", "Failed": "#c62828"}
SCORE_LABELS = {"overall": "Overall", "environmental": "Environmental", "social": "Social", "governance": "Governance"}
SCORE_COLOURS = {"overall": "#37474f", "environmental": "#00897b", "social": "#1e6fb8", "governance": "#8e5ba8"}
# Dash patterns tell the four score lines apart without relying on colour alone.
SCORE_DASHES = {"overall": "", "environmental": "7 3", "social": "2 3", "governance": "9 3 2 3"}
FOCUS_COLOURS = {"Environmental": "#00897b", "Social": "#1e6fb8", "Governance": "#8e5ba8"}
CALLED_COLOUR, CARRIED_COLOUR = "#1e6fb8", "#90a4ae"


def _share(n: int, total: int) -> str:
    return pct(Decimal(n) / Decimal(total)) if total else "n/a"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], caption: str, css_class: str = "mini") -> str:
    """A table of already-escaped cells; the first column is a row header."""
    head = "".join(f'<th scope="col">{esc(h)}</th>' for h in headers)
    body = "".join(
        f'<tr><th scope="row">{row[0]}</th>{"".join(f"<td>{cell}</td>" for cell in row[1:])}</tr>' for row in rows
    )
    return f'<table class="{css_class}"><caption>{esc(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _card(title: str, *parts: str, css_class: str = "card") -> str:
    return f'<div class="{css_class}"><h3>{esc(title)}</h3>{"".join(parts)}</div>'


def day_charts(summary: Summary) -> str:
    """Status breakdown, primary focus, and the ESG API calls of the day."""
    total = int(summary.total_accounts)
    counts = summary.status_counts
    status = bar_chart(
        [(s, counts[s], STATUS_COLOURS[s]) for s in STATUS_COLOURS],
        title=f"Processing status of {fmt_count(total)} accounts",
        value_label=lambda v: f"{fmt_count(v)} ({_share(int(v), total)})",
    )
    status_rows = [[esc(s), esc(fmt_count(counts[s])), esc(_share(counts[s], total))] for s in STATUS_COLOURS]
    focus = summary.primary_focus_distribution
    with_focus = sum(int(focus[p]) for p in FOCUS_COLOURS)
    focus_chart = bar_chart(
        [(p, focus[p], FOCUS_COLOURS[p]) for p in FOCUS_COLOURS],
        title="Primary ESG focus of the rated accounts",
        value_label=lambda v: f"{fmt_count(v)} ({_share(int(v), with_focus)})",
    )
    focus_rows = [
        [esc(p), figure(f"primary_focus_distribution.{p}", focus[p], fmt_count(focus[p]), "inline"), esc(_share(focus[p], with_focus))]
        for p in FOCUS_COLOURS
    ]
    called, carried = int(summary.accounts_called), int(summary.carried_forward)
    calls = bar_chart(
        [("Called the API", called, CALLED_COLOUR), ("Carried forward", carried, CARRIED_COLOUR)],
        title="Accounts called versus carried forward",
        value_label=lambda v: f"{fmt_count(v)} ({_share(int(v), total)})",
    )
    api = summary.api
    api_rows = [
        [esc("Requests to the ESG API"), figure("api.requests", api.requests, fmt_count(api.requests), "inline")],
        [esc("Retries"), figure("api.retries", api.retries, fmt_count(api.retries), "inline")],
        [esc("Rate-limited answers (429)"), figure("api.rate_limited", api.rate_limited, fmt_count(api.rate_limited), "inline")],
        [esc("Token refreshes"), figure("api.token_refreshes", api.token_refreshes, fmt_count(api.token_refreshes), "inline")],
        [esc("Run duration"), figure("duration_seconds", summary.duration_seconds, duration(summary.duration_seconds), "inline")],
    ]
    return (
        '<section aria-labelledby="h-day"><h2 id="h-day">The day at a glance</h2><div class="cards">'
        + _card("Status breakdown", status, _table(["Status", "Accounts", "Share"], status_rows, "Accounts by processing status"))
        + _card("Primary ESG focus", focus_chart,
                _table(["Focus", "Accounts", "Share"], focus_rows, "Accounts by primary ESG focus"),
                '<p class="note">Share of the accounts that have a primary focus (Failed accounts, and Partial ones '
                'without a focus, have none).</p>')
        + _card("ESG API calls", calls, _table(["Figure", "Value"], api_rows, "Calls to the ESG API in the latest run"),
                '<p class="note">Carried forward: unchanged since the previous day and rated recently enough '
                "(at most 7 days ago by default), so its rating was reused without a call.</p>")
        + "</div></section>"
    )


def distributions(score_histograms: dict[str, list[int]]) -> str:
    """Four small histograms of the day's Overall/E/S/G scores, and their counts as a table."""
    charts, rows = [], []
    bins = max((len(score_histograms.get(k) or []) for k in SCORE_LABELS), default=0) or 10
    edges = [100 * i / bins for i in range(bins + 1)]
    labels = [f"{edges[i]:g}–{edges[i + 1]:g}" for i in range(bins)]
    for key, label in SCORE_LABELS.items():
        counts = list(score_histograms.get(key) or [0] * bins)
        chart = histogram(counts, title=f"Distribution of {label} scores", colour=SCORE_COLOURS[key])
        charts.append(_card(f"{label} score", chart, css_class="card small"))
        rows.append([esc(label), *(esc(fmt_count(c)) for c in counts), esc(fmt_count(sum(counts)))])
    table = _table(["Score", *labels, "Values"], rows, "Number of scores in each range", "mini wide")
    return (
        '<section aria-labelledby="h-dist"><h2 id="h-dist">Distribution of scores</h2>'
        f'<div class="cards four">{"".join(charts)}</div>{table}'
        '<p class="note">Successful and Partial accounts; a range includes its lower bound, and 100 is counted in the last range.</p>'
        "</section>"
    )


def _pct_tick(value: float) -> str:
    return f"{value * 100:.2f}".rstrip("0").rstrip(".") + "\u00a0%"


def trends(history: Sequence[dict[str, Any]], first_day: date, last_day: date) -> str:
    """Line charts over the last 30 days of job history, one point per partition."""
    head = '<section aria-labelledby="h-trends"><h2 id="h-trends">Trends over the last 30 days</h2>'
    if not history:
        return head + '<p class="note">No job history is recorded for these 30 days yet.</p></section>'
    days = [date.fromisoformat(str(r["partition"])) for r in history]

    def series(key: str, name: str, colour: str, dash: str = "", scale: float = 1.0) -> Series:
        return Series(name, [(d, None if r.get(key) is None else float(r[key]) / scale) for d, r in zip(days, history)], colour, dash)

    def chart(title: str, lines: list[Series], tick: Callable[[float], str], value: Callable[[float], str], **kw: Any) -> str:
        svg = line_chart(lines, title=title, first_day=first_day, last_day=last_day, tick_label=tick, value_label=value, **kw)
        return _card(title, svg, css_class="card trend")

    scores = [series(f"avg_{k}", label, SCORE_COLOURS[k], SCORE_DASHES[k]) for k, label in SCORE_LABELS.items()]
    charts = [
        chart("Average scores", scores, lambda v: f"{v:g}", lambda v: f"{v:.2f}"),
        chart("Success rate", [series("success_rate", "Success rate", STATUS_COLOURS["Successful"])], _pct_tick, _pct_tick, y_max=1.0),
        chart("Call failure rate", [series("call_failure_rate", "Call failure rate", STATUS_COLOURS["Failed"])], _pct_tick, _pct_tick,
              y_min=0.0, threshold=(float(MAX_CALL_FAILURE_RATE), "5 % alert threshold")),
        chart("Run duration (minutes)", [series("duration_seconds", "Duration", "#5d4037", scale=60.0)],
              fmt_compact, lambda v: duration(v * 60), y_min=0.0),
        chart("Requests to the ESG API", [series("requests", "Requests", CALLED_COLOUR)], fmt_compact, fmt_count, y_min=0.0),
        chart("Carried rows that differed from the API (daily check)", [
            series("carry_check_differed", "Differed", STATUS_COLOURS["Failed"]),
            series("carry_check_sampled", "Re-checked", "#607d8b", "6 3"),
        ], fmt_compact, fmt_count, y_min=0.0),
        chart("Accounts carried forward and called", [
            series("carried_forward", "Carried forward", "#607d8b"),
            series("accounts_called", "Called", CALLED_COLOUR, "6 3"),
        ], fmt_compact, fmt_count, y_min=0.0),
    ]
    note = ""
    if len(history) == 1:
        note = '<p class="note">Only one day of history so far: each trend shows a single dot.</p>'
    rows = [
        [esc(d.isoformat()), esc(fmt_count(r.get("total_accounts") or 0)), esc(pct(_dec(r.get("success_rate")))),
         esc(pct(_dec(r.get("call_failure_rate")))),
         *(esc(score(_dec(r.get(f"avg_{k}")))) for k in SCORE_LABELS),
         esc(duration(r.get("duration_seconds"))), esc(fmt_count(r.get("requests") or 0)),
         esc(fmt_count(r.get("accounts_called") or 0)), esc(fmt_count(r.get("carried_forward") or 0)),
         esc(fmt_count(r.get("carry_check_differed") or 0))]
        for d, r in zip(days, history)
    ]
    table = _table(
        ["Date", "Accounts", "Success rate", "Call failure rate", "Avg Overall", "Avg E", "Avg S", "Avg G",
         "Duration", "Requests", "Called", "Carried forward", "Check differed"],
        rows, "Job history, latest run of each day", "mini wide history",
    )
    return head + note + f'<div class="cards three">{"".join(charts)}</div>{table}</section>'


def carry_check(summary: Summary) -> str:
    """The day's carry-forward check in one sentence (docs/spec.md#carry-forward-check)."""
    check = summary.carry_check
    sentence = check.sentence()
    css = "note bad" if check.differed else "note"
    return ('<section aria-labelledby="h-check"><h2 id="h-check">Carry-forward check</h2>'
            f'<p class="{css}" data-figure="carry_check">{esc(sentence)}</p></section>')


def _dec(value: object) -> Decimal | None:
    """A history figure (a DOUBLE in the state database) as the decimal it was recorded from."""
    return None if value is None else Decimal(repr(float(value)))  # type: ignore[arg-type]


def failed_list(failed: Sequence[str], partition: str) -> str:
    """Every failed account, never truncated; many columns so a long list stays printable."""
    head = (
        f'<section aria-labelledby="h-failed"><h2 id="h-failed">Failed accounts '
        f'(<span data-figure="failed_accounts.count" data-value="{len(failed)}">{esc(fmt_count(len(failed)))}</span>)</h2>'
    )
    if not failed:
        return head + '<p class="note">None: every account of the day has a rating.</p></section>'
    size = "compact" if len(failed) > 200 else ""
    items = "".join(f"<li>{esc(account)}</li>" for account in failed)
    return (
        head
        + f'<p class="note">The complete list, in Account ID order. The reason for each failure is in the error file of {esc(partition)}.</p>'
        + f'<ol class="failed {size}" data-figure="failed_accounts">{items}</ol></section>'
    )
