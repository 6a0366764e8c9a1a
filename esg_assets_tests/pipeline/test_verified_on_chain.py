"""Rule 4 by Verified On (contract 1.1) through the real sandbox, whose provider keeps analyses
30-400 days old: the asset executes the day's plan with the configured age limit, so a rating
confirmed by a call is carried while its call is at most ESG_MAX_RATING_AGE_DAYS old, whatever
its Analysis Date, and an account called mid-chain gets its own days.

One chain of five days with a limit of 2 proves the asset applies the plan and the setting; the
contract's default of 7 and the 7/8-day boundary across ten- and eleven-day chains are proven on
the plan and the state layer without a server (state/test_carry_repo.py, domain/test_plan.py;
the default itself in test_settings.py)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import dagster as dg
import pytest

from esg_assets_tests.support.chain import PLAN_ONLY
from esg_assets_tests.support.job import fast_job_env, read_output, run_day
from esg_assets_tests.pipeline.oracle import parse_csv
from esg_assets_tests.sandbox.harness import SandboxProcess

pytestmark = pytest.mark.integration
FIRST = date(2026, 11, 1)
SIX = {f"ACC-{i:07d}" for i in range(1, 7)}


def day(n: int) -> str:
    return (FIRST + timedelta(days=n - 1)).isoformat()


def analysed(sb: SandboxProcess, since: int) -> set[str]:
    return {r["account_id"] for r in sb.requests(since) if r["kind"] == "analysis"}


def rows(partition: str) -> dict[str, list[str]]:
    return {r[0]: r for r in parse_csv(read_output(partition, "ratings"))[1:]}


def test_carried_while_the_last_call_is_recent_an_account_called_mid_chain_gets_its_own_days(
        tmp_path, apply_env) -> None:
    with SandboxProcess(accounts=6, seed=4, today=day(1), analysis_age_days="30-400") as sb:
        apply_env(fast_job_env(tmp_path / "home", sb.env(), ESG_MAX_RATING_AGE_DAYS="2"))
        with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
            calls: dict[int, set[str]] = {}
            for n in range(1, 6):
                if n > 1:
                    # Day 2: the AMS record of ACC-0000002 changes, so it is called (verified on day 2).
                    sb.advance(days=1, ams_updated=["ACC-0000002"] if n == 2 else [])
                mark = sb.next_index()
                # Days 4 and 5 are read for their calls only: they stop at esg_ratings.
                assert run_day(day(n), instance, **({"assets": PLAN_ONLY} if n > 3 else {})).success, n
                calls[n] = analysed(sb, mark)
            assert calls[1] == SIX
            # The provider's analyses are months old...
            assert all(r[8] < day(1) for r in parse_csv(read_output(day(1), "ratings"))[1:])
            assert calls[2] == {"ACC-0000002"}
            # ...yet day 3 (2 days after the call of day 1, inclusive) carries every row,
            assert calls[3] == set()
            summary = json.loads(read_output(day(3), "summary"))
            assert (summary["accounts_called"], summary["carried_forward"]) == (0, 6)
            # day 4 is 3 days after it: confirmed again, but ACC-0000002's call of day 2 is recent;
            assert calls[4] == SIX - {"ACC-0000002"}
            # day 5 is 3 days after ACC-0000002's call.
            assert calls[5] == {"ACC-0000002"}
            # Carried rows are byte-identical across the chain.
            assert read_output(day(3), "ratings").split(b"\n")[1:] == read_output(day(2), "ratings").split(b"\n")[1:]
            first, second = rows(day(1)), rows(day(2))
            assert len(second) == 6
            assert {a: r for a, r in second.items() if a != "ACC-0000002"} == {
                a: r for a, r in first.items() if a != "ACC-0000002"}
