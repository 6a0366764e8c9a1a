"""The one rounding rule of the job: half-up from the exact decimal the API sent.

Scores are never read through a binary float: the JSON is parsed with `parse_float=Decimal`.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

NOT_AVAILABLE = "N/A"
SCORE_PLACES = 2  # CSV scores and summary averages
RATE_PLACES = 4  # summary success_rate and call_failure_rate


def round_half_up(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def format_score(value: Decimal | None) -> str:
    """`72.455` -> `72.46`, `80` -> `80.00`, missing -> `N/A`."""
    if value is None:
        return NOT_AVAILABLE
    return f"{round_half_up(value, SCORE_PLACES):.{SCORE_PLACES}f}"
