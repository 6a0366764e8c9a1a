"""Text forms of the report's figures: percentages, scores, durations, dates, and the
`data-figure` markup that lets tools read a displayed figure back exactly."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import ROUND_HALF_UP, Decimal

from esg_assets.reporting.svg import esc

MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def json_value(value: object) -> str:
    """The machine value of a figure for `data-value`: `0.9961`, `100000`, `null`."""
    if value is None:
        return "null"
    if isinstance(value, Decimal):
        return format(value, "f")  # never exponent notation, never a float's rounding
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def pct(value: object) -> str:
    """0.9961 -> '99.61 %' (a rate has 4 decimals, so two decimals of a percent are exact)."""
    if value is None:
        return "n/a"
    return f"{(Decimal(str(value)) * 100).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}\u00a0%"


def score(value: object) -> str:
    if value is None:
        return "n/a"
    return str(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def duration(seconds: object) -> str:
    """812.4 -> '13 min 32 s'."""
    if seconds is None:
        return "n/a"
    total = int(round(float(str(seconds))))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def long_date(day: date) -> str:
    return f"{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]} {day.year}"


def generated_text(generated_at: str) -> str:
    """RFC 3339 UTC -> '2026-11-27 05:02 CST (11:02:13 UTC)'; the firm works in Central time."""
    try:
        instant = datetime.strptime(generated_at, "%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError):
        return str(generated_at)
    try:
        from zoneinfo import ZoneInfo

        local = instant.replace(tzinfo=timezone.utc).astimezone(ZoneInfo("America/Chicago"))
        return f"{local:%Y-%m-%d %H:%M} {local.tzname()} ({instant:%H:%M:%S} UTC)"
    except Exception:  # no time-zone database: UTC alone is still exact
        return f"{instant:%Y-%m-%d %H:%M:%S} UTC"


def figure(path: str, value: object, text: str, css_class: str = "value") -> str:
    """A displayed figure that tools can read back exactly."""
    return (
        f'<span class="{css_class}" data-figure="{esc(path)}" data-value="{esc(json_value(value))}">{esc(text)}</span>'
    )
