"""The window forecast (domain/forecast.py): the configured rate before any call finished,
the measured rate after; at risk strictly past the run's start + 4 h."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from esg_assets.domain.forecast import at_risk, project, window_end

NOW = datetime(2026, 11, 27, 11, 30, tzinfo=UTC)
START = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)


def test_before_a_measurement_the_configured_rate_is_used() -> None:
    f = project(0, 100_000, 0.0, 10.0, NOW)
    assert not f.measured and f.rate_per_second == 10.0
    assert f.projected_end == NOW + timedelta(seconds=10_000)


def test_the_measured_rate_then_drives_the_projection() -> None:
    f = project(3_000, 27_000, 600.0, 50.0, NOW)  # 5 per second measured
    assert f.measured and f.rate_per_second == 5.0
    assert f.projected_end == NOW + timedelta(seconds=5_400)
    assert f.metadata()["accounts_left"] == 27_000 and f.metadata()["rate_measured"] is True


def test_at_risk_strictly_after_the_window_end() -> None:
    assert window_end(START) == datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    assert not at_risk(window_end(START), START)
    assert at_risk(window_end(START) + timedelta(seconds=1), START)
    assert project(0, 1, 0.0, 0.0, NOW).projected_end > window_end(START)  # no rate at all: never ends
