"""One partition per business day, keyed YYYY-MM-DD in America/Chicago, from 2025-01-01.

`end_offset=1` makes today's partition exist from midnight Central, so the 05:00 run of day D
materializes D itself (a plain daily definition would only offer D-1 until the day is over).
"""

import dagster as dg

TIMEZONE = "America/Chicago"
FIRST_PARTITION = "2025-01-01"

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=FIRST_PARTITION,
    timezone=TIMEZONE,
    end_offset=1,
)
