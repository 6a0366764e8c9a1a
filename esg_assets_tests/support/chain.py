"""A chain of days run once for a test module and read by several tests: each day's run in
process against a real Dagster instance and the sandbox, kept with the upstream requests it
made and the files it left, read back at once (a later run of the same partition rewrites them).

The module's fixture starts the sandbox and the instance, sets the job environment through
`module_env`, runs its days with `observe`, and yields what the tests read (loadscope keeps a
module on one worker; nothing is shared across modules)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import dagster as dg
import pytest

from esg_assets_tests.pipeline.oracle import parse_csv
from esg_assets_tests.sandbox.harness import SandboxProcess
from esg_assets_tests.support.job import read_output, run_day


# The days whose files no test reads stop at esg_ratings: the change detection is done there,
# and the next day's plan needs only its completion (about 40 % of a whole run's CPU saved).
PLAN_ONLY = ("active_accounts", "esg_ratings")


@dataclass(frozen=True)
class Day:
    """One run of a chain as the tests read it."""

    result: dg.ExecuteInProcessResult
    requests: list[dict[str, Any]]
    rows: dict[str, list[str]]  # the ratings file's rows by Account ID ({} when not written)
    summary: dict[str, Any]  # the summary file ({} when not written)

    @property
    def success(self) -> bool:
        return self.result.success

    @property
    def called(self) -> set[str]:
        """The accounts whose analysis this run requested."""
        return {r["account_id"] for r in self.requests if r["kind"] == "analysis"}

    @property
    def ratings(self) -> dict[str, Any]:
        """`esg_ratings`' materialization metadata as plain values (mode, accounts called and
        carried by this run, ...): what a day that stops at `esg_ratings` reports."""
        [materialization] = self.result.asset_materializations_for_node("esg_ratings")
        return {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}


def observe(sb: SandboxProcess, instance: dg.DagsterInstance, partition: str, **run: Any) -> Day:
    """Run the partition (`run_day`'s keywords) and keep what a test of the chain reads."""
    mark = sb.next_index()
    result = run_day(partition, instance, **run)
    wrote = result.success and "daily_summary" in run.get("assets", ("daily_summary",))
    rows = {r[0]: r for r in parse_csv(read_output(partition, "ratings"))[1:]} if wrote else {}
    summary = json.loads(read_output(partition, "summary")) if wrote else {}
    return Day(result, sb.requests(mark), rows, summary)


@contextmanager
def module_env(env: dict[str, str]) -> Iterator[pytest.MonkeyPatch]:
    """Exactly `env` as this process's ESG_* variables for a module's chain (the function-scoped
    `apply_env` fixture cannot serve a module-scoped one); undone on exit."""
    mp = pytest.MonkeyPatch()
    try:
        for name in [n for n in os.environ if n.startswith("ESG_")]:
            mp.delenv(name)
        for name, value in env.items():
            mp.setenv(name, value)
        yield mp
    finally:
        mp.undo()
