"""The forecast's cadence: while `esg_ratings` calls, a report is out at the latest every
REPORT_EVERY_SECONDS (docs/alerts.md `window_at_risk`), even when the fetch loop's ticks
(every ≤ 0.5 s) come late under load; late ticks must not add up from one report to the next."""

from __future__ import annotations

import random

from esg_assets.domain.forecast import REPORT_EVERY_SECONDS, ReportSchedule


def _report_times(lateness: float, seconds: float = 600.0, seed: int = 7) -> list[float]:
    """Tick every 0.5 s, each tick up to `lateness` late; the moments the schedule reports."""
    rng = random.Random(seed)
    schedule, times, t = ReportSchedule(), [], 0.0
    while t < seconds:
        now = t + rng.uniform(0.0, lateness)
        if schedule.due(now):
            times.append(now)
        t += 0.5
    return times


def test_reports_are_never_further_apart_than_the_promise_with_ticks_up_to_half_a_second_late() -> None:
    times = _report_times(lateness=0.5)
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert times[0] == 0.0 or times[0] < 0.5  # the first tick reports
    assert max(gaps) <= REPORT_EVERY_SECONDS


def test_late_ticks_do_not_add_up_the_reports_stay_on_their_grid() -> None:
    times = _report_times(lateness=0.9)
    assert max(b - a for a, b in zip(times, times[1:])) <= REPORT_EVERY_SECONDS + 0.9
    assert len(times) >= 600.0 / REPORT_EVERY_SECONDS  # on average more often than the promise


def test_not_more_often_than_needed() -> None:
    times = _report_times(lateness=0.0)
    assert min(b - a for a, b in zip(times, times[1:])) >= REPORT_EVERY_SECONDS - 1.5


def test_after_a_long_stall_the_next_report_comes_at_once_and_the_grid_restarts() -> None:
    schedule = ReportSchedule()
    assert schedule.due(0.0)
    assert schedule.due(30.0)  # the loop was stalled for 30 s
    assert not schedule.due(30.5)  # no burst of catch-up reports
    assert schedule.due(30.0 + REPORT_EVERY_SECONDS)
