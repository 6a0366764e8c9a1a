"""The guard every asset runs first (assets/common.py::refuse_retry_after_window), on a real
instance with real runs: an automatic retry (`dagster/retry_number`) of a run that ended at its
run window stops before any call, naming the window; a retry of a run that failed otherwise, and
a run that is no retry, go ahead. (A direct call, direct.py, has no run: the guard reads the
run's tags first, so it reaches the asset's logic.)"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest

from esg_assets.names import WINDOW_MARKER
from esg_assets_tests.assets.direct import DAY, direct_env, use_env
from esg_assets_tests.sandbox.harness import SandboxProcess

RETRY = {"dagster/retry_number": "1"}


def esg_job() -> dg.JobDefinition:
    """The definitions' daily job, loadable by reference (`dg.reconstructable`)."""
    from esg_assets.definitions import defs
    from esg_assets.jobs import DAILY_JOB_NAME

    return defs.resolve_job_def(DAILY_JOB_NAME)


@pytest.fixture
def instance(tmp_path, monkeypatch) -> Iterator[tuple[dg.DagsterInstance, SandboxProcess]]:
    with SandboxProcess(accounts=3, seed=4, today=DAY) as sb:
        use_env(monkeypatch, direct_env(tmp_path / "home", sb))
        (tmp_path / "instance").mkdir()
        with dg.instance_for_test(temp_dir=str(tmp_path / "instance")) as inst:
            yield inst, sb


def run(inst: dg.DagsterInstance, tags: dict[str, str] | None = None, parent: str | None = None) -> dg.JobExecutionResult:
    options = None if parent is None else dg.ReexecutionOptions(parent_run_id=parent, step_selection=["active_accounts"])
    return dg.execute_job(dg.reconstructable(esg_job), inst, tags={"dagster/partition": DAY, **(tags or {})},
                          asset_selection=[dg.AssetKey("active_accounts")], reexecution_options=options)


def failures(result: dg.JobExecutionResult) -> list[str]:
    return [e.event_specific_data.error.message for e in result.all_events if e.is_step_failure]


def test_a_retry_of_a_run_ended_at_its_window_stops_naming_it_before_any_call(instance) -> None:
    inst, sb = instance
    parent = run(inst)
    assert parent.success
    inst.report_engine_event(f"{WINDOW_MARKER}: terminating the run.", dagster_run=inst.get_run_by_id(parent.run_id))
    mark = sb.next_index()
    retry = run(inst, RETRY, parent=parent.run_id)
    assert not retry.success
    assert any(f"{WINDOW_MARKER}: run {parent.run_id[:8]} ended at its run window; not retried automatically" in m
               for m in failures(retry))
    assert sb.requests(mark) == []


def test_a_retry_of_a_run_that_failed_otherwise_and_a_re_execution_go_ahead(instance) -> None:
    inst, sb = instance
    parent = run(inst)
    assert run(inst, RETRY, parent=parent.run_id).success  # the parent did not end at the window
    inst.report_engine_event(f"{WINDOW_MARKER}: terminating the run.", dagster_run=inst.get_run_by_id(parent.run_id))
    assert run(inst, parent=parent.run_id).success  # a person's re-execution: no retry tag
