"""The job's command line in process, and the step failures of an in-process run."""

from __future__ import annotations

import pytest


def run_cli(capfd: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`esg-ratings ARGV` in process: (exit status, stdout, stderr)."""
    from esg_assets.cli import main

    capfd.readouterr()
    code = main(list(argv))
    out, err = capfd.readouterr()
    return code, out, err


def step_failure_messages(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.event_specific_data.error.message for e in result.all_events if e.is_step_failure]
