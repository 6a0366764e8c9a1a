"""The day the command-line conformance module reads (test_cli_contract.py): one `dagster asset
materialize` of the six-account world of cli_world.py, then, after every check of that day, the
targeted reruns of it (`esg-ratings rerun`, output-and-behaviour.md §7): refused ones first, then
the one that changes the day's files. Module-scoped: each module that asks for them gets its own
server, home and runs (xdist may run modules on different workers in any order). The other
conformance modules define their own `server` and days."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from esg_assets_tests.conformance.cli_world import (
    DAY, LOGICAL, Refused, Rerun, contract_env, rerun_day, rerun_world, the_world,
)
from esg_assets_tests.conformance.harness import Day, files_get
from esg_assets_tests.conformance.upstream import Upstream


@pytest.fixture(scope="module")
def server() -> Iterator[Upstream]:
    with Upstream(the_world()).running() as upstream:
        yield upstream


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, server: Upstream) -> dict[str, str]:
    return contract_env(tmp_path_factory.mktemp("cli-home"), server)


@pytest.fixture(scope="module")
def started() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(scope="module")
def day(started: datetime, server: Upstream, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Day:
    return Day(server, env, DAY, tmp_path_factory.mktemp("cli-day"))


@pytest.fixture(scope="module")
def refused_rerun(day: Day, server: Upstream, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Refused:
    """Two reruns refused at their start, on a server that would answer differently were anything
    called: ESG_CLIENT_SECRET missing ("stops the run at its start", configuration.md) and IDs that
    are not active accounts of the day among two that are."""
    out = tmp_path_factory.mktemp("before-rerun")
    assert files_get(env, DAY, "report", out).returncode == 0
    before = {**day.files, "report": (out / LOGICAL["report"]).read_bytes()}
    server.set_world(rerun_world())
    try:
        no_secret = {k: v for k, v in env.items() if k != "ESG_CLIENT_SECRET"}
        unconfigured = rerun_day(server, no_secret, None, "CLI-001")
        unknown = rerun_day(server, env, tmp_path_factory.mktemp("refused"), "CLI-001", "NOPE-404", "CLI-003", "GONE_7")
        return Refused(unknown, unconfigured, before)
    finally:
        server.set_world(the_world())


@pytest.fixture(scope="module")
def rerun(refused_rerun: Refused, server: Upstream, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Rerun:
    """The rerun of CLI-001 and CLI-005 (Successful) and CLI-003 (Failed), which all answer anew
    (cli_world.RERUN_ROWS): it changes the day's files, so the tests that read it come last in
    their module."""
    server.set_world(rerun_world())
    return rerun_day(server, env, tmp_path_factory.mktemp("rerun"), "CLI-001", "CLI-003", "CLI-005")
