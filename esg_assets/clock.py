"""UTC timestamp text: the one place that decides how the job writes an instant.

Every file, log line, database column, alert and e-mail writes instants as UTC with a `Z`
suffix (docs/spec.md#timestamps). Four precisions exist, each fixed by what reads it:

- `seconds` (`2026-11-27T11:02:13Z`): the summary's `generated_at`, the error file's Last
  Attempt At, job history, file records, alerts and PagerDuty, the `files list` command;
- `milliseconds` (`...13.123Z`): audit log records;
- `microseconds` (`...13.123456Z`): JSON log lines, run records in the state database, and the
  `since` parameter of the changes feed (its precision decides which changes are seen);
- `compact` (`20261127T110213123456Z`): a stamp inside a file name.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

UTC = timezone.utc

Precision = Literal["seconds", "milliseconds", "microseconds", "compact"]

_FORMATS: dict[str, str] = {
    "seconds": "%Y-%m-%dT%H:%M:%SZ",
    "microseconds": "%Y-%m-%dT%H:%M:%S.%fZ",
    "compact": "%Y%m%dT%H%M%S%fZ",
}


def utc_now() -> datetime:
    return datetime.now(UTC)


def utc_text(moment: datetime | float | None = None, precision: Precision = "seconds") -> str:
    """`moment` (an aware datetime, a naive one meant as UTC, a Unix time, or now when None)
    as UTC text in `precision`. A naive datetime is never local time in this job: every
    instant it keeps comes from a UTC clock."""
    if moment is None:
        at = utc_now()
    elif isinstance(moment, datetime):
        at = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    else:
        at = datetime.fromtimestamp(moment, UTC)
    if precision == "milliseconds":
        return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
    return at.strftime(_FORMATS[precision])
