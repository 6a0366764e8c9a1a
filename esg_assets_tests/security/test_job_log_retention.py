"""Retention deletes old job-log lines: the job writes one log file per Chicago day
(`esg-ratings-YYYY-MM-DD.jsonl`), and retention deletes a day's file by the day in its name,
even when its mtime is recent (an ever-growing single file kept 2018 lines for ever)."""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import dagster as dg

from esg_assets.observability import JobLog, log_file
from esg_assets.partitions import chicago_day
from esg_assets.retention import purge
from esg_assets.settings import load_storage
from esg_assets.state.db import connect
from esg_assets.storage.factory import open_store


def test_the_job_writes_one_log_per_day_and_retention_deletes_old_days(storage_env: Path,
                                                                       monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ESG_RETENTION_DAYS", "30")
    settings = load_storage()
    JobLog(dg.build_asset_context(), "esg_ratings", settings.log_dir).event("ratings_done", called=3)
    today = chicago_day()
    written = sorted(p.name for p in settings.log_dir.iterdir())
    assert written == [log_file(settings.log_dir, today).name]
    # The same file as the job would have written it on days long gone (mtime now: recent).
    old_day, kept_day = date(2018, 3, 1), date.fromordinal(today.toordinal() - 30)
    for day in (old_day, kept_day):
        shutil.copy(log_file(settings.log_dir, today), log_file(settings.log_dir, day))
        os.utime(log_file(settings.log_dir, day))
    with connect(settings.state_db, settings.encryption_key_bytes) as con:
        report = purge(settings, today, open_store(settings), con)
    assert report.logs == [log_file(settings.log_dir, old_day).name]
    assert sorted(p.name for p in settings.log_dir.iterdir()) == sorted(
        log_file(settings.log_dir, d).name for d in (kept_day, today))
