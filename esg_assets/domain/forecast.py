"""The window forecast (docs/spec.md#alerts, `window_at_risk`): from the calls done
and left and the rate measured so far, when will `esg_ratings` finish, and does that pass the
end of the run's 4-hour window? Plain Python: the asset reports it, the sensor judges it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

WINDOW = timedelta(hours=4)  # a run's window: its start + 4 h (05:00 -> 09:00 Chicago)
REPORT_EVERY_SECONDS = 5.0  # the job reports at least this often while it calls
# Aimed at, on a fixed grid: the fetch loop ticks every <= 0.5 s and a tick may come late under
# load, so aiming at the promise itself would overshoot it on every report.
REPORT_AIM_SECONDS = REPORT_EVERY_SECONDS - 1.0


class ReportSchedule:
    """When the next forecast is due. Due times lie on a grid REPORT_AIM_SECONDS apart from the
    first report, so a late tick delays one report, never the ones after it; after a stall longer
    than one step the grid restarts from the late report (no burst of catch-up reports)."""

    def __init__(self, every: float = REPORT_AIM_SECONDS) -> None:
        self._every = every
        self._due: float | None = None

    def due(self, now: float) -> bool:
        """True when a report is due at monotonic time `now` (and then schedules the next)."""
        if self._due is not None and now < self._due:
            return False
        on_grid = self._due is not None and now - self._due < self._every
        self._due = (self._due if on_grid else now) + self._every  # type: ignore[operator]
        return True


@dataclass(frozen=True)
class Forecast:
    """One report: accounts done and left this run, the rate used, and the projected end."""

    at: datetime
    done: int
    left: int
    rate_per_second: float
    measured: bool  # False: no call has finished yet, the configured rate limit is used
    projected_end: datetime

    def metadata(self) -> dict[str, float | int | str | bool]:
        """Plain values, for the Dagster observation, the JSON log and the sensor."""
        return {
            "accounts_done": self.done, "accounts_left": self.left,
            "rate_per_second": round(self.rate_per_second, 3), "rate_measured": self.measured,
            "projected_end": self.projected_end.isoformat(), "projected_end_timestamp": self.projected_end.timestamp(),
            "reported_at": self.at.isoformat(),
        }


def project(done: int, left: int, elapsed_seconds: float, configured_rate: float, now: datetime) -> Forecast:
    """Projected end = now + left / rate, where rate is what this run measured (done over the
    time since its first call) once a call has finished, the configured rate limit before."""
    measured = done > 0 and elapsed_seconds > 0
    rate = done / elapsed_seconds if measured else configured_rate
    seconds_left = left / rate if rate > 0 else float("inf")
    end = now + timedelta(seconds=min(seconds_left, 10 * 365 * 86400))  # "never" stays a date
    return Forecast(at=now, done=done, left=left, rate_per_second=rate, measured=measured, projected_end=end)


def window_end(run_start: datetime) -> datetime:
    return run_start + WINDOW


def at_risk(projected_end: datetime, run_start: datetime) -> bool:
    """`window_at_risk`: the projected end passes the end of the run's window (strictly)."""
    return projected_end > window_end(run_start)
