"""The summary file end to end: a whole day in process against the sandbox (every failure kind
of test_pipeline's scripted day) writes `FirmESGSummary_YYYYMMDD.json` byte for byte as the
dict-based code wrote it for the same day (the golden file, made by that code from this run;
only the instant and the duration differ between runs), and `Summary.from_json` reads the file
back to a record whose `to_json()` is the file."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg
import pytest

from esg_assets.domain.summary import Summary
from esg_assets_tests.support.job import PARTITION, fast_job_env, read_output, run_day
from esg_assets_tests.pipeline.test_pipeline import SCENARIOS
from esg_assets_tests.sandbox.harness import SandboxProcess

GOLDEN = Path(__file__).parent / "golden" / "FirmESGSummary_20261120_scripted.json"
# What a run cannot repeat: when it wrote the file, how long it took.
_VARYING = re.compile(rb'^  "(generated_at|duration_seconds)": .*$', re.M)

pytestmark = pytest.mark.integration


def test_the_summary_file_is_byte_identical_end_to_end(tmp_path: Path, apply_env) -> None:
    with SandboxProcess(accounts=24, seed=3, today=PARTITION, timeout_delay=3) as sb:
        apply_env(fast_job_env(tmp_path / "home", sb.env()))
        sb.script({acc: steps for acc, (steps, *_rest) in SCENARIOS.items()})
        with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
            run_day(instance=instance)
            data = read_output(PARTITION, "summary")
    varying = {m[1]: m[0] for m in _VARYING.finditer(data)}
    assert set(varying) == {b"generated_at", b"duration_seconds"}
    expected = _VARYING.sub(lambda m: varying[m[1]], GOLDEN.read_bytes())
    assert data == expected
    summary = Summary.from_json(data)
    assert summary.to_json() == data
    assert summary.status_counts["Failed"] == len(summary.failed_accounts) == 13
