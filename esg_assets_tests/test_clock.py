"""`clock.utc_text`, the one formatter of UTC timestamp text: each precision gives exactly the
text the job wrote before it existed (the inline formats it replaced), for aware, naive and
Unix-time moments, and an aware moment in another zone is written as UTC."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from esg_assets.clock import utc_text

AT = datetime(2026, 11, 27, 11, 2, 13, 123456, tzinfo=timezone.utc)


@pytest.mark.parametrize(("precision", "expected", "old"), [
    ("seconds", "2026-11-27T11:02:13Z", AT.strftime("%Y-%m-%dT%H:%M:%SZ")),
    ("milliseconds", "2026-11-27T11:02:13.123Z", AT.isoformat(timespec="milliseconds").replace("+00:00", "Z")),
    ("microseconds", "2026-11-27T11:02:13.123456Z", AT.strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
    ("compact", "20261127T110213123456Z", AT.strftime("%Y%m%dT%H%M%S%fZ")),
])
def test_each_precision_is_the_format_it_replaced(precision: str, expected: str, old: str) -> None:
    assert utc_text(AT, precision) == expected == old  # type: ignore[arg-type]
    assert utc_text(AT.replace(tzinfo=None), precision) == expected  # type: ignore[arg-type]
    assert utc_text(AT.timestamp(), precision) == expected  # type: ignore[arg-type]


def test_another_zone_is_written_as_utc_and_now_is_utc() -> None:
    chicago = AT.astimezone(timezone(timedelta(hours=-6)))
    assert utc_text(chicago) == "2026-11-27T11:02:13Z"
    before = datetime.now(timezone.utc).replace(microsecond=0)
    now = datetime.strptime(utc_text(), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert before <= now <= datetime.now(timezone.utc)
    assert utc_text(AT.replace(microsecond=999)).endswith(":13Z")
    assert utc_text(AT.replace(microsecond=999), "milliseconds") == "2026-11-27T11:02:13.000Z"
