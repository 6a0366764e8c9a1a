"""What the run's process froze when it loaded the definitions (`collector.load_frozen`) stays out
of the cyclic collector's sight through the day's steps, the fetch included (`worker_pool.py`
freezes what exists during the fetch and must not hand the definitions back afterwards); the
process's exit freezes the rest (`test_defs_loading.py`). The day's files are as before (the
other tests of this folder)."""

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


def test_the_definitions_stay_frozen_through_the_days_steps(sandbox, tmp_path, monkeypatch) -> None:
    use_env(monkeypatch, direct_env(tmp_path / "home", sandbox))
    gc.freeze()  # as loading the definitions left the process
    frozen = gc.get_freeze_count()
    try:
        call(active_accounts)
        call(esg_ratings, config=RatingsConfig())
        assert gc.get_freeze_count() >= frozen
        call(ratings_csv)
        call(daily_summary)
        assert gc.get_freeze_count() >= frozen
    finally:
        gc.unfreeze()
