"""The Prometheus textfile: every gauge's name, labels, value, HELP and TYPE, and its atomic replace.

The expected samples are the ones the hand-written exposition gave before the file moved to
prometheus_client; a node-exporter textfile collector must see the same series after the move.
"""

from __future__ import annotations

import os
import stat
import threading
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from esg_assets.domain.carry_check import CarryCheck
from esg_assets.domain.summary import ApiCounts, Summary
from esg_assets.observability import METRICS_FILE_NAME, prometheus_text, write_metrics

SUMMARY = Summary(
    partition="2026-11-20", generated_at="2026-11-20T11:00:03Z", total_accounts=24, success_rate=Decimal("0.3750"),
    call_failure_rate=Decimal("0.5417"), accounts_called=24, carried_forward=0,
    status_counts={"Successful": 9, "Partial": 2, "Failed": 13},
    average_scores={}, primary_focus_distribution={}, failed_accounts=(),
    api=ApiCounts(requests=61, retries=37, rate_limited=4), carry_check=CarryCheck(), duration_seconds=3.217,
)
P = {"partition": "2026-11-20"}
EXPECTED = {
    ("esg_ratings_last_summary_timestamp_seconds", ()): 1764000000.5,
    ("esg_ratings_accounts_total", tuple(P.items())): 24,
    ("esg_ratings_success_rate", tuple(P.items())): 0.375,
    ("esg_ratings_call_failure_rate", tuple(P.items())): 0.5417,
    ("esg_ratings_accounts_called", tuple(P.items())): 24,
    ("esg_ratings_carried_forward", tuple(P.items())): 0,
    ("esg_ratings_api_requests", tuple(P.items())): 61,
    ("esg_ratings_api_retries", tuple(P.items())): 37,
    ("esg_ratings_api_rate_limited", tuple(P.items())): 4,
    ("esg_ratings_duration_seconds", tuple(P.items())): 3.217,
    ("esg_ratings_accounts_by_status", (*P.items(), ("status", "Successful"))): 9,
    ("esg_ratings_accounts_by_status", (*P.items(), ("status", "Partial"))): 2,
    ("esg_ratings_accounts_by_status", (*P.items(), ("status", "Failed"))): 13,
}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge" and family.documentation, family.name
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items(), key=lambda kv: kv[0] != "partition")))] = s.value
    return out


def test_same_series_and_values_as_before() -> None:
    text = prometheus_text(SUMMARY, now=1764000000.5)
    assert samples(text) == EXPECTED
    assert "# HELP esg_ratings_call_failure_rate Failed / accounts called (the 5 % rule).\n" in text
    assert "# TYPE esg_ratings_accounts_by_status gauge\n" in text


def test_textfile_is_replaced_atomically_readable_by_the_collector(tmp_path: Path) -> None:
    """Concurrent writers (runs of two days) never leave a torn or temporary file, whatever the umask."""
    old_umask = os.umask(0o077)
    try:
        errors: list[BaseException] = []

        def writer(total: int) -> None:
            try:
                for _ in range(50):
                    write_metrics(tmp_path, replace(SUMMARY, total_accounts=total))
            except BaseException as err:  # surfaced by the assertion below
                errors.append(err)

        threads = [threading.Thread(target=writer, args=(n,)) for n in (24, 25, 26)]
        for t in threads:
            t.start()
        seen: set[float] = set()
        while any(t.is_alive() for t in threads):
            path = tmp_path / METRICS_FILE_NAME
            if path.exists():
                got = samples(path.read_text())
                assert len(got) == len(EXPECTED)
                seen.add(got[("esg_ratings_accounts_total", tuple(P.items()))])
        for t in threads:
            t.join()
    finally:
        os.umask(old_umask)
    assert not errors and seen <= {24, 25, 26}
    assert [p.name for p in tmp_path.iterdir()] == [METRICS_FILE_NAME]
    assert stat.S_IMODE((tmp_path / METRICS_FILE_NAME).stat().st_mode) == 0o644
