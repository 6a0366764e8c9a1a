"""Conformance against an independent upstream server (upstream.py), run the way an outside
suite would (harness.py): a critical failure (no token, 401 after a fresh token, an AMS page lost)
fails the run and writes nothing. Each scenario has its own server and home; the three runs go at
once (they share nothing), so the module waits for the slowest of them, not for their sum. The
token endpoint answering 401 (one token request, no retry) is the PF run of
test_threshold_alerts.py, checked there with the same assertions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from esg_assets_tests.conformance import worlds as w
from esg_assets_tests.conformance.harness import Ran, assert_no_output, job_env, materialize_apart
from esg_assets_tests.conformance.upstream import CLIENT_SECRET, World

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def _token_503(world: World) -> None:
    world.token_status = 503


def _analysis_401(world: World) -> None:
    world.reject_analysis_tokens = True


def _ams_page_lost(world: World) -> None:
    world.ams_failing_page = 2


SCENARIOS: dict[str, Callable[[World], None]] = {
    "token-503": _token_503, "analysis-401": _analysis_401, "ams-page-lost": _ams_page_lost,
}


@pytest.fixture(scope="module")
def failed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Ran]:
    # Made here, not in the threads: pytest's temp factory is not thread-safe on first use.
    homes = {label: tmp_path_factory.mktemp(label) / "home" for label in SCENARIOS}
    worlds = {label: w.day1_world() for label in SCENARIOS}
    for label, change in SCENARIOS.items():
        change(worlds[label])
    return materialize_apart(homes, worlds, w.DAY1, lambda _label, home, upstream: job_env(home, upstream))


def test_no_token_fails_the_run_and_writes_nothing(failed: dict[str, Ran], tmp_path: Path) -> None:
    run = failed["token-503"]
    assert run.done.returncode != 0
    assert [e.kind for e in run.log] == ["token"] * 3  # a 503 is retried: three attempts in all
    assert_no_output(run.env, w.DAY1, tmp_path / "out")
    assert CLIENT_SECRET not in run.done.stdout + run.done.stderr


def test_401_again_after_a_fresh_token_fails_the_run_and_writes_nothing(failed: dict[str, Ran], tmp_path: Path) -> None:
    run = failed["analysis-401"]
    assert run.done.returncode != 0
    assert {e.status for e in run.log if e.kind == "analysis"} == {401}
    assert_no_output(run.env, w.DAY1, tmp_path / "out")


def test_ams_page_lost_fails_the_run_and_writes_nothing(failed: dict[str, Ran], tmp_path: Path) -> None:
    run = failed["ams-page-lost"]
    assert run.done.returncode != 0
    assert [e.status for e in run.log if e.kind == "ams"] == [200, 200, 503, 503, 503]
    assert_no_output(run.env, w.DAY1, tmp_path / "out")
