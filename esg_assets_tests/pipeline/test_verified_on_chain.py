"""Rule 4 by Verified On (contract 1.1) across chains of days through the real sandbox, whose
provider keeps analyses 30-400 days old: a rating confirmed by a call is carried for up to 7
days after that call, whatever its Analysis Date, and called again on day 8."""

from __future__ import annotations

import json
from datetime import date, timedelta

import dagster as dg
import pytest

from esg_assets_tests.support.job import fast_job_env, read_output, run_day
from esg_assets_tests.pipeline.oracle import parse_csv
from esg_assets_tests.sandbox.harness import SandboxProcess

pytestmark = pytest.mark.integration
FIRST = date(2026, 11, 1)


def day(n: int) -> str:
    return (FIRST + timedelta(days=n - 1)).isoformat()


def analysed(sb: SandboxProcess, since: int) -> set[str]:
    return {r["account_id"] for r in sb.requests(since) if r["kind"] == "analysis"}


def test_carried_seven_days_after_the_last_call_called_on_day_eight(tmp_path, apply_env) -> None:
    with SandboxProcess(accounts=12, seed=4, today=day(1), analysis_age_days="30-400") as sb:
        apply_env(fast_job_env(tmp_path / "home", sb.env()))
        with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
            calls: dict[int, set[str]] = {}
            for n in range(1, 11):
                if n > 1:
                    sb.advance(days=1)
                mark = sb.next_index()
                assert run_day(day(n), instance).success, n
                calls[n] = analysed(sb, mark)
            everyone = {f"ACC-{i:07d}" for i in range(1, 13)}
            assert calls[1] == everyone
            # The provider's analyses are months old...
            assert all(r[8] < day(1) for r in parse_csv(read_output(day(1), "ratings"))[1:])
            # ...yet days 2-8 (7 days after the call of day 1, inclusive) carry every row,
            for n in range(2, 9):
                assert calls[n] == set(), n
            # day 9 is 8 days after it: every rating is confirmed again, then carried again.
            assert calls[9] == everyone
            assert calls[10] == set()
            summary = json.loads(read_output(day(8), "summary"))
            assert (summary["accounts_called"], summary["carried_forward"]) == (0, 12)
            # Carried rows are byte-identical across the chain.
            assert read_output(day(8), "ratings").split(b"\n")[1:] == read_output(day(1), "ratings").split(b"\n")[1:]


def test_an_account_called_mid_chain_gets_its_own_seven_days(tmp_path, apply_env) -> None:
    with SandboxProcess(accounts=6, seed=4, today=day(1), analysis_age_days="30-400") as sb:
        apply_env(fast_job_env(tmp_path / "home", sb.env()))
        with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
            assert run_day(day(1), instance).success
            calls: dict[int, set[str]] = {}
            for n in range(2, 12):
                # Day 3: the AMS record of ACC-0000002 changes, so it is called (verified on day 3).
                sb.advance(days=1, ams_updated=["ACC-0000002"] if n == 3 else [])
                mark = sb.next_index()
                assert run_day(day(n), instance).success, n
                calls[n] = analysed(sb, mark)
            assert calls[3] == {"ACC-0000002"}
            assert calls[9] == {f"ACC-{i:07d}" for i in range(1, 7)} - {"ACC-0000002"}
            assert calls[10] == set()  # 7 days after day 3's call: still carried
            assert calls[11] == {"ACC-0000002"}  # 8 days after it
