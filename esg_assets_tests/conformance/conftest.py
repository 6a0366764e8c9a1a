"""The day a command-line conformance module reads (test_cli_contract.py, test_cli_rerun.py): one
`dagster asset materialize` of the six-account world of cli_world.py per module. Module-scoped,
not shared between the two: the rerun changes the day's files, and xdist may run the modules on
one worker in either order. The other conformance modules define their own `server` and days."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from esg_assets_tests.conformance.cli_world import DAY, contract_env, the_world
from esg_assets_tests.conformance.harness import Day
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
