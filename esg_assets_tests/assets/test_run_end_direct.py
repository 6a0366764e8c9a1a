"""The day's last step leaves what the process holds out of the cyclic collector's sight
(`collector.freeze_for_exit`), so the interpreter's shutdown after the run does not collect it
all again; the day's files are as before (the other tests of this folder)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from esg_assets.assets.accounts import active_accounts
from esg_assets.assets.files import ratings_csv
from esg_assets.assets.ratings import RatingsConfig, esg_ratings
from esg_assets.assets.summary import daily_summary
from esg_assets_tests.assets.direct import DAY, call, direct_env, use_env
from esg_assets_tests.sandbox.harness import SandboxProcess


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProcess]:
    with SandboxProcess(accounts=5, seed=3, today=DAY) as sb:
        yield sb


def test_daily_summary_freezes_what_the_process_holds_and_the_steps_before_do_not(sandbox, tmp_path, monkeypatch) -> None:
    use_env(monkeypatch, direct_env(tmp_path / "home", sandbox))
    gc.unfreeze()
    call(active_accounts)
    call(esg_ratings, config=RatingsConfig())
    call(ratings_csv)
    assert gc.get_freeze_count() == 0
    call(daily_summary)
    assert gc.get_freeze_count() > 0
    gc.unfreeze()
