"""`esg-ratings history` and a refused `esg-ratings rerun`, run in this process (`cli.main`) on
the state the assets wrote when called directly (direct.py): the table's columns and figures, and
the one-line refusal (exit 2) of an ID that is not an active account, before any run is
launched. The same commands as subprocesses: conformance/test_cli_contract.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from esg_assets.assets.accounts import active_accounts
from esg_assets.assets.files import ratings_csv
from esg_assets.assets.ratings import RatingsConfig, esg_ratings
from esg_assets.assets.summary import daily_summary
from esg_assets.cli import main
from esg_assets_tests.assets.direct import DAY, call, direct_env, state
from esg_assets_tests.sandbox.harness import SandboxProcess
from esg_assets_tests.support.chain import module_env


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProcess]:
    with SandboxProcess(accounts=6, seed=17, today=DAY) as sb:
        yield sb


@pytest.fixture(scope="module")
def day(sandbox, tmp_path_factory) -> Iterator[SandboxProcess]:
    """The whole day materialized by calling the four assets directly (ACC-0000002 Failed, 404),
    once for the module: neither test changes it."""
    with module_env(direct_env(tmp_path_factory.mktemp("day") / "home", sandbox)):
        sandbox.clear_scripts()
        sandbox.script({"ACC-0000002": ["404"]})
        call(active_accounts)
        call(esg_ratings, config=RatingsConfig())
        call(ratings_csv)
        call(daily_summary)
        yield sandbox


def test_history_prints_one_line_per_run_with_its_figures(day, capsys) -> None:
    """Moved here from pipeline/test_rerun.py::test_history_command_prints_the_runs_of_the_day."""
    assert main(["history", "--days", "3650"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split("\t") == ["partition", "run", "seconds", "total", "ok", "partial", "failed", "called", "carried",
                                  "fail_rate", "requests"]
    assert [r.split("\t")[0] for r in rows] == [DAY]
    fields = rows[0].split("\t")
    assert fields[1] == "EPHEMERA"  # the run ID, cut to 8 characters (a direct call's run is EPHEMERAL)
    assert fields[3:9] == ["6", "5", "0", "1", "6", "0"] and float(fields[9]) == pytest.approx(0.1667)


def test_rerun_of_an_unknown_id_is_one_line_exit_2_before_any_run(day, capsys) -> None:
    """Moved here from pipeline/test_rerun.py::test_rerun_command_line_rejects_an_unknown_account."""
    mark = day.next_index()
    with state() as con:
        before = con.execute("SELECT * FROM ratings ORDER BY account_id").fetchall()
    assert main(["rerun", DAY, "--account", "ACC-0000003", "--account", "ACC-7777777"]) == 2
    err = capsys.readouterr().err
    assert err == f"esg-ratings: error: not active accounts of {DAY}: ACC-7777777\n"
    assert day.requests(mark) == []
    with state() as con:
        assert con.execute("SELECT * FROM ratings ORDER BY account_id").fetchall() == before
