"""A retry Dagster decided on and never launched is re-armed (esg_assets/retry_watch.py).

On a real SQLite instance with `run_retries`: a run is failed through the instance, so it gets
its RUN_FAILURE event and its `dagster/will_retry` tag the way every run does. Then the retry
daemon's cursor is put at that event, which is where the race leaves it (docs/operations.md, "A
host lost"). What the retry daemon does once its cursor is back is Dagster's own code. The e2e
proof of the whole path is `test_host_loss.py`, where the race was seen."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg
import pytest
from dagster._core.storage.tags import AUTO_RETRY_RUN_ID_TAG, PARENT_RUN_ID_TAG, WILL_RETRY_TAG

from esg_assets.retry_watch import FAILURE_CURSOR_KEY, GRACE_SECONDS, failure_event_id, rearm_missed_retries
from esg_assets.sensors import rearm_retries


@dg.op
def step() -> None:
    pass


@dg.job
def tiny() -> None:
    step()


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test(overrides={"run_retries": {"enabled": True, "max_retries": 2}}) as inst:
        yield inst


def failed(instance: dg.DagsterInstance, **tags: str) -> tuple[dg.DagsterRun, int, float]:
    """A run failed through the instance (event, status, will_retry), its failure event's id
    among the run-status events, and when it ended."""
    run = instance.create_run_for_job(tiny, tags=tags or None)
    instance.report_run_failed(run)
    record = instance.get_run_record_by_id(run.run_id)
    event_id = failure_event_id(instance, record)
    assert event_id is not None and record.end_time is not None
    return record.dagster_run, event_id, record.end_time


def cursor(instance: dg.DagsterInstance) -> int | None:
    raw = instance.daemon_cursor_storage.get_cursor_values({FAILURE_CURSOR_KEY}).get(FAILURE_CURSOR_KEY)
    return None if raw is None else int(raw)


def read_up_to(instance: dg.DagsterInstance, event_id: int) -> None:
    """Where the retry daemon leaves its cursor once it has read the events up to `event_id`."""
    instance.daemon_cursor_storage.set_cursor_values({FAILURE_CURSOR_KEY: str(event_id)})


def later(ended: float, seconds: float = GRACE_SECONDS + 1) -> datetime:
    return datetime.fromtimestamp(ended + seconds, UTC)


def test_a_failure_read_before_its_run_was_tagged_gets_its_retry_back(instance: dg.DagsterInstance) -> None:
    run, event_id, ended = failed(instance)
    assert run.tags[WILL_RETRY_TAG] == "true"
    read_up_to(instance, event_id + 3)  # later run-status events were read too
    assert rearm_missed_retries(instance, later(ended)) == [run.run_id]
    assert cursor(instance) == event_id - 1  # the retry daemon's next pass reads the failure again
    # Once re-armed, another pass changes nothing until the retry daemon has read it again.
    assert rearm_missed_retries(instance, later(ended)) == []
    assert cursor(instance) == event_id - 1


def test_the_cursor_goes_back_to_the_earliest_missed_failure(instance: dg.DagsterInstance) -> None:
    first, first_id, _ = failed(instance)
    second, second_id, ended = failed(instance)
    assert first_id < second_id
    read_up_to(instance, second_id)
    assert sorted(rearm_missed_retries(instance, later(ended))) == sorted([first.run_id, second.run_id])
    assert cursor(instance) == first_id - 1


def test_a_failure_the_retry_daemon_has_not_reached_or_had_no_time_for_is_left_alone(
        instance: dg.DagsterInstance) -> None:
    _, event_id, ended = failed(instance)
    assert rearm_missed_retries(instance, later(ended)) == []  # no cursor yet: it will read everything
    assert cursor(instance) is None
    read_up_to(instance, event_id - 1)
    assert rearm_missed_retries(instance, later(ended)) == []
    assert cursor(instance) == event_id - 1
    read_up_to(instance, event_id)
    assert rearm_missed_retries(instance, later(ended, GRACE_SECONDS - 5)) == []  # its next pass is due
    assert cursor(instance) == event_id


def test_a_run_retried_or_not_to_be_retried_is_left_alone(instance: dg.DagsterInstance) -> None:
    retried, _, _ = failed(instance)
    instance.add_run_tags(retried.run_id, {AUTO_RETRY_RUN_ID_TAG: "b" * 36})
    by_hand, _, _ = failed(instance)
    instance.create_run_for_job(tiny, tags={PARENT_RUN_ID_TAG: by_hand.run_id})  # re-executed from the UI
    refused, _, _ = failed(instance)
    instance.add_run_tags(refused.run_id, {WILL_RETRY_TAG: "false"})
    last, last_id, ended = failed(instance)
    instance.add_run_tags(last.run_id, {WILL_RETRY_TAG: "false"})
    read_up_to(instance, last_id)
    assert rearm_missed_retries(instance, later(ended)) == []
    assert cursor(instance) == last_id


def test_the_sensor_says_which_run_it_re_armed_and_survives_a_storage_error(instance: dg.DagsterInstance) -> None:
    class Log:
        def __init__(self) -> None:
            self.lines: list[str] = []

        def warning(self, text: str) -> None:
            self.lines.append(text)

    run, event_id, ended = failed(instance)
    read_up_to(instance, event_id)
    log = Log()
    rearm_retries(instance, log)  # the real clock: the run ended moments ago, inside the grace
    assert log.lines == [] and cursor(instance) == event_id

    class Broken:
        daemon_cursor_storage = property(lambda self: (_ for _ in ()).throw(OSError("disk gone")))

    rearm_retries(Broken(), log)  # type: ignore[arg-type]
    assert log.lines == ["could not re-arm missed retries: OSError: disk gone"]
