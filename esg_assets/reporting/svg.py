"""Small inline-SVG chart primitives for the daily report: horizontal bars, a histogram and a
line chart with axes and labels.

Each function returns one self-contained `<svg>` string: no script, no external reference, every
text escaped. Each chart carries `role="img"`, an `aria-label`, a `<title>` and a `<desc>` that
states the plotted numbers, so a screen reader (or a text search) gets the data, not a picture.
Charts scale with their container through `viewBox`; sizes below are in viewBox units (~px).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

FONT = "font-family=\"inherit\" font-size=\"12\""
GRID = "#d9dde3"
AXIS = "#5b6470"
TEXT = "#1f2933"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def esc(value: object) -> str:
    """Text for HTML/SVG content or a quoted attribute."""
    return escape(str(value), quote=True)


def fmt_count(value: float) -> str:
    """1234567 -> '1,234,567'."""
    return f"{round(value):,}"


def fmt_compact(value: float) -> str:
    """Axis labels: 1500 -> '1.5k', 2000000 -> '2M'."""
    for limit, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{value:.10g}"


def fmt_day(day: date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]}"


def _open(width: int, height: int, title: str, desc: str, css_class: str) -> list[str]:
    return [
        f'<svg class="{css_class}" role="img" aria-label="{esc(title)}" '
        f'viewBox="0 0 {width} {height}" preserveAspectRatio="xMidYMid meet" {FONT}>',
        f"<title>{esc(title)}</title>",
        f"<desc>{esc(desc)}</desc>",
    ]


def _text(x: float, y: float, text: str, *, anchor: str = "start", fill: str = TEXT, extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}"{extra}>{esc(text)}</text>'


def bar_chart(
    items: Sequence[tuple[str, float, str]],
    *,
    title: str,
    value_label: Callable[[float], str] = fmt_count,
    width: int = 340,
) -> str:
    """Horizontal bars, one per (label, value, colour), scaled to the largest value."""
    row, top = 30, 6
    label_w = 8 + 6.6 * max((len(label) for label, _, _ in items), default=4)
    value_w = 12 + 7.4 * max((len(value_label(v)) for _, v, _ in items), default=4)
    plot_w = max(40, width - label_w - value_w)
    height = top * 2 + row * len(items)
    peak = max((v for _, v, _ in items), default=0)
    desc = "; ".join(f"{label}: {value_label(v)}" for label, v, _ in items)
    out = _open(width, height, title, desc, "chart bar-chart")
    for i, (label, value, colour) in enumerate(items):
        y = top + i * row
        bar = 0.0 if peak <= 0 else plot_w * value / peak
        if value > 0:
            bar = max(bar, 2.0)  # a tiny non-zero share stays visible
        out.append(_text(label_w - 8, y + 19, label, anchor="end"))
        out.append(f'<rect x="{label_w}" y="{y + 5}" width="{plot_w}" height="20" fill="#f1f3f5"/>')
        out.append(
            f'<rect x="{label_w}" y="{y + 5}" width="{bar:.1f}" height="20" fill="{colour}">'
            f"<title>{esc(label)}: {esc(value_label(value))}</title></rect>"
        )
        out.append(_text(label_w + bar + 6, y + 19, value_label(value), extra=' font-weight="600"'))
    out.append("</svg>")
    return "".join(out)


def nice_ticks(lo: float, hi: float, target: int = 5, *, fixed_lo: bool = False, fixed_hi: bool = False) -> list[float]:
    """Round tick values covering [lo, hi] (1, 2, 2.5 or 5 times a power of ten apart)."""
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        pad = abs(hi) * 0.05 or 1.0
        lo, hi = (lo if fixed_lo else lo - pad), (hi if fixed_hi else hi + pad)
        if hi == lo:
            hi = lo + 1.0
    raw = (hi - lo) / max(1, target)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = lo if fixed_lo else math.floor(lo / step + 1e-9) * step
    end = hi if fixed_hi else math.ceil(hi / step - 1e-9) * step
    ticks = [start]
    while ticks[-1] < end - step * 1e-6:
        ticks.append(min(end, round(ticks[-1] + step, 12)))
    return ticks


def histogram(counts: Sequence[int], *, title: str, colour: str, lower: float = 0, upper: float = 100, width: int = 260) -> str:
    """Columns for equal bins over [lower, upper]; the last bin includes `upper`."""
    bins = max(1, len(counts))
    height, left, right, top, bottom = 170, 36, 14, 10, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    edge = [lower + (upper - lower) * i / bins for i in range(bins + 1)]
    ranges = [f"{edge[i]:g}–{edge[i + 1]:g}" for i in range(bins)]
    desc = "; ".join(f"{r}: {fmt_count(c)}" for r, c in zip(ranges, counts))
    out = _open(width, height, title, desc, "chart histogram")
    total = sum(counts)
    ticks = nice_ticks(0, max(counts, default=0) or 1, 4, fixed_lo=True)
    y_top = ticks[-1]
    for t in ticks:
        y = top + plot_h - plot_h * t / y_top
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        out.append(_text(left - 4, y + 4, fmt_compact(t), anchor="end", fill=AXIS, extra=' font-size="10"'))
    col = plot_w / bins
    for i, c in enumerate(counts):
        h = plot_h * c / y_top
        x = left + i * col
        out.append(
            f'<rect x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" width="{col - 2:.1f}" height="{h:.1f}" fill="{colour}">'
            f"<title>{esc(ranges[i])}: {esc(fmt_count(c))}</title></rect>"
        )
    base = top + plot_h
    out.append(f'<line x1="{left}" x2="{width - right}" y1="{base}" y2="{base}" stroke="{AXIS}"/>')
    step = 1 if bins <= 5 else 2  # every other edge label keeps ten bins legible at this size
    for i in range(0, bins + 1, step):
        out.append(_text(left + i * col, base + 14, f"{edge[i]:g}", anchor="middle", fill=AXIS, extra=' font-size="10"'))
    out.append(_text(left + plot_w / 2, height - 4, f"score ({fmt_count(total)} values)", anchor="middle", fill=AXIS, extra=' font-size="10"'))
    if total == 0:
        out.append(_text(left + plot_w / 2, top + plot_h / 2, "no values", anchor="middle", fill=AXIS))
    out.append("</svg>")
    return "".join(out)


@dataclass(frozen=True)
class Series:
    """One line: a value (or None, a gap) per day."""

    name: str
    points: Sequence[tuple[date, float | None]]
    colour: str
    dash: str = ""


def _legend_layout(series: Sequence[Series], width: int) -> list[list[tuple[float, Series]]]:
    """Legend entries placed left to right, wrapping onto a new row rather than off the chart."""
    rows: list[list[tuple[float, Series]]] = [[]]
    x = 8.0
    for s in series:
        needed = 30 + 6.2 * len(s.name)
        if rows[-1] and x + needed > width - 4:
            rows.append([])
            x = 8.0
        rows[-1].append((x, s))
        x += needed
    return rows


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    first_day: date,
    last_day: date,
    tick_label: Callable[[float], str] = fmt_compact,
    value_label: Callable[[float], str] = fmt_compact,
    y_min: float | None = None,
    y_max: float | None = None,
    threshold: tuple[float, str] | None = None,
    width: int = 360,
) -> str:
    """Lines over days [first_day, last_day]. `y_min`/`y_max` pin an end of the value axis (0 for
    counts, 1 for a rate); an unpinned end follows the data so small movements stay visible. A
    `threshold` (value, label) is drawn as a dashed red rule."""
    legend_rows = _legend_layout(series, width) if len(series) > 1 else []
    left, right, bottom = 50, 20, 26
    top = 12 + 15 * len(legend_rows)
    height = 178 + top
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for s in series for _, v in s.points if v is not None]
    days_with_data = {d for s in series for d, v in s.points if v is not None}
    bounds = values + ([threshold[0] * 1.15] if threshold else [])  # headroom above the rule
    lo = y_min if y_min is not None else min(bounds, default=0.0)
    hi = y_max if y_max is not None else max(bounds, default=1.0)
    if y_max is not None and lo > hi:
        lo = hi
    ticks = nice_ticks(lo, hi, 4, fixed_lo=y_min is not None, fixed_hi=y_max is not None)
    y0, y1 = ticks[0], ticks[-1]
    span_days = max(1, (last_day - first_day).days)

    def px(day: date) -> float:
        return left + plot_w * (day - first_day).days / span_days

    def py(value: float) -> float:
        return top + plot_h - plot_h * (value - y0) / ((y1 - y0) or 1)

    desc = "; ".join(
        f"{s.name}: " + ", ".join(f"{d.isoformat()} {value_label(v)}" for d, v in s.points if v is not None) for s in series
    )
    out = _open(width, height, title, desc or "no data", "chart line-chart")
    for t in ticks:
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="{GRID}"/>')
        out.append(_text(left - 5, py(t) + 4, tick_label(t), anchor="end", fill=AXIS, extra=' font-size="10"'))
    base = top + plot_h
    out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{base}" y2="{base}" stroke="{AXIS}"/>')
    for k in range(6):
        day = date.fromordinal(first_day.toordinal() + round(span_days * k / 5))
        out.append(f'<line x1="{px(day):.1f}" x2="{px(day):.1f}" y1="{base}" y2="{base + 4}" stroke="{AXIS}"/>')
        out.append(_text(px(day), base + 16, fmt_day(day), anchor="middle", fill=AXIS, extra=' font-size="10"'))
    if threshold is not None:
        value, label = threshold
        out.append(
            f'<line class="threshold" x1="{left}" x2="{left + plot_w}" y1="{py(value):.1f}" y2="{py(value):.1f}" '
            f'stroke="#c62828" stroke-width="1.5" stroke-dasharray="6 4"><title>{esc(label)}</title></line>'
        )
        out.append(_text(left + 4, py(value) - 4, label, fill="#c62828", extra=' font-size="10" font-weight="600"'))
    single = len(days_with_data) == 1
    for s in series:
        segment: list[str] = []
        segments: list[list[str]] = []
        for d, v in s.points:
            if v is None:
                segments.append(segment)
                segment = []
                continue
            segment.append(f"{px(d):.1f},{py(v):.1f}")
        segments.append(segment)
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        for seg in segments:
            if len(seg) > 1:
                out.append(f'<polyline points="{" ".join(seg)}" fill="none" stroke="{s.colour}" stroke-width="2"{dash}/>')
        for d, v in s.points:
            if v is not None:
                out.append(
                    f'<circle cx="{px(d):.1f}" cy="{py(v):.1f}" r="{4 if single else 2.5}" fill="{s.colour}">'
                    f"<title>{esc(s.name)} {esc(d.isoformat())}: {esc(value_label(v))}</title></circle>"
                )
    for row, entries in enumerate(legend_rows):
        y = 9 + 15 * row
        for x, s in entries:
            dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
            out.append(f'<line x1="{x}" x2="{x + 18}" y1="{y}" y2="{y}" stroke="{s.colour}" stroke-width="2.5"{dash}/>')
            out.append(_text(x + 22, y + 4, s.name, extra=' font-size="11"'))
    if not values:
        out.append(_text(left + plot_w / 2, top + plot_h / 2, "no data", anchor="middle", fill=AXIS))
    elif single:
        out.append(_text(left + plot_w / 2, top + 14, "one day of history so far", anchor="middle", fill=AXIS, extra=' font-style="italic"'))
    out.append("</svg>")
    return "".join(out)
