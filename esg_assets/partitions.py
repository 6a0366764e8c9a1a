"""One partition per business day, keyed YYYY-MM-DD in America/Chicago, from 2025-01-01.

`end_offset=1` makes today's partition exist from midnight Central, so the 05:00 run of day D
materializes D itself (a plain daily definition would only offer D-1 until the day is over).
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg

TIMEZONE = "America/Chicago"
FIRST_PARTITION = "2025-01-01"

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=FIRST_PARTITION,
    timezone=TIMEZONE,
    end_offset=1,
)


def chicago_day(instant: datetime | None = None) -> date:
    """The partition day (America/Chicago calendar day) of an aware instant; now by default."""
    zone = ZoneInfo(TIMEZONE)
    return (instant or datetime.now(zone)).astimezone(zone).date()
