"""The targeted rerun through `esg-ratings rerun` (output-and-behaviour.md §7), from the command
line as configuration.md says, on conftest.py's day (after test_cli_contract.py has read it: the
rerun changes the day's files): exactly the named accounts called, other rows byte-identical, an
unknown ID, a missing variable and a day never run refused before any call, the rebuilt files
stored and audited as the first ones, the run recorded in the Dagster instance."""

from __future__ import annotations

import json
import stat
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from esg_assets_tests.conformance.cli_world import (
    DAY, NO_FILE_DAY, KINDS, LOGICAL, DAY_ROWS, RERUN_ROWS, the_world, rerun_world, cli, sha256, secrets_of,
    store_of, audit_lines, get_all, dagster_runs,
)
from esg_assets_tests.conformance import worlds as w
from esg_assets_tests.conformance.harness import Day, files_get, rows
from esg_assets_tests.conformance.upstream import Entry, Upstream

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


# ---- §7 targeted rerun through `esg-ratings rerun` (last: it changes the day's files) ------------------
@dataclass
class Rerun:
    done: subprocess.CompletedProcess[str]
    log: list[Entry]
    files: dict[str, bytes]
    runs_before: list[dict[str, Any]]
    runs_after: list[dict[str, Any]]


def _rerun(server: Upstream, env: dict[str, str], out: Path | None, *accounts: str) -> Rerun:
    before = dagster_runs(env) if out else []
    first = len(server.entries())
    args = [a for aid in accounts for a in ("--account", aid)]
    done = cli(env, "rerun", DAY, *args)
    log = server.entries(since=first)
    return Rerun(done, log, get_all(env, out), before, dagster_runs(env)) if out else Rerun(done, log, {}, [], [])


@dataclass
class Refused:
    unknown: Rerun  # an ID that is not an active account of D
    unconfigured: Rerun  # ESG_CLIENT_SECRET missing: "stops the run at its start" (configuration.md)
    before: dict[str, bytes]


@pytest.fixture(scope="module")
def refused_rerun(day: Day, server: Upstream, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Refused:
    out = tmp_path_factory.mktemp("before-rerun")
    assert files_get(env, DAY, "report", out).returncode == 0
    before = {**day.files, "report": (out / LOGICAL["report"]).read_bytes()}
    server.set_world(rerun_world())  # were anything called, it would answer differently
    try:
        no_secret = {k: v for k, v in env.items() if k != "ESG_CLIENT_SECRET"}
        unconfigured = _rerun(server, no_secret, None, "CLI-001")
        unknown = _rerun(server, env, tmp_path_factory.mktemp("refused"), "CLI-001", "NOPE-404", "CLI-003", "GONE_7")
        return Refused(unknown, unconfigured, before)
    finally:
        server.set_world(the_world())


@pytest.fixture(scope="module")
def rerun(refused_rerun: Any, server: Upstream, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Rerun:
    server.set_world(rerun_world())
    return _rerun(server, env, tmp_path_factory.mktemp("rerun"), "CLI-001", "CLI-003")


def test_rerun_of_an_unknown_id_is_refused_before_any_call(refused_rerun: Refused) -> None:
    result, before = refused_rerun.unknown, refused_rerun.before
    message = result.done.stdout + result.done.stderr
    assert result.done.returncode != 0
    assert "NOPE-404" in message and "GONE_7" in message and "Traceback" not in message, message
    assert "CLI-001" not in message and "CLI-003" not in message, message  # only the unknown ones are listed
    print(f"rerun refused: {message.strip()}")
    assert result.log == [], [(e.kind, e.path) for e in result.log]
    assert result.files == before


def test_rerun_with_a_missing_variable_stops_at_start(refused_rerun: Refused) -> None:
    result = refused_rerun.unconfigured
    message = result.done.stdout + result.done.stderr
    assert result.done.returncode != 0
    assert [x for x in message.splitlines() if "ESG_CLIENT_SECRET" in x and len(x) < 300], message[-3000:]
    assert result.log == [], [(e.kind, e.path) for e in result.log]
    assert refused_rerun.unknown.files == refused_rerun.before  # fetched after both refusals


def test_rerun_of_a_day_never_run_is_refused_before_any_call(day: Day, server: Upstream, env: dict[str, str]) -> None:
    # §7: no account is an active account of a day whose list was never materialized.
    first = len(server.entries())
    done = cli(env, "rerun", NO_FILE_DAY, "--account", "CLI-001")
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stdout + done.stderr
    assert server.entries(since=first) == []
    assert not [p for p in store_of(env).iterdir() if NO_FILE_DAY.replace("-", "") in p.name]


def test_rerun_recalls_exactly_the_named_accounts(rerun: Rerun) -> None:
    assert rerun.done.returncode == 0, rerun.done.stdout[-3000:] + rerun.done.stderr[-3000:]
    called = Counter(e.account_id for e in rerun.log if e.kind == "analysis")
    assert called == {"CLI-001": 1, "CLI-003": 1}


def test_rerun_rebuilds_the_files_and_keeps_every_other_row(day: Day, rerun: Rerun, env: dict[str, str],
                                                            refused_rerun: Refused) -> None:
    expected = [RERUN_ROWS.get(line.split(",", 1)[0], line) for line in DAY_ROWS]
    assert rerun.files["ratings"] == w.csv_text(expected)
    assert [r[:4] for r in rows(rerun.files["errors"])[1:]] == [["CLI-004", "1", "partial_data", "200"]]
    s = json.loads(rerun.files["summary"])
    assert s["status_counts"] == {"Successful": 5, "Partial": 1, "Failed": 0}
    assert s["failed_accounts"] == [] and s["total_accounts"] == 6
    assert s["accounts_called"] + s["carried_forward"] == 6
    # §3b: the report shows the failed accounts; after the rerun there is none (CLI-003 was one).
    before = refused_rerun.before
    assert b"CLI-003" in before["report"] and b"CLI-003" not in rerun.files["report"]
    # The rebuilt files are stored as the first ones were (§9).
    for kind in KINDS:
        path = store_of(env) / (LOGICAL[kind] + ".enc")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600 and b"Quillfeather" not in path.read_bytes(), kind
    output = rerun.done.stdout + rerun.done.stderr
    assert [x for x in secrets_of(env) if x in output] == []


def test_rerun_writes_are_audited(rerun: Rerun, env: dict[str, str]) -> None:
    lines = audit_lines(env)
    for kind in ("ratings", "errors", "summary"):
        digest = sha256(rerun.files[kind])
        assert [x for x in lines if LOGICAL[kind] in x and "write" in x and digest in x], kind
    verify = cli(env, "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_rerun_is_recorded_in_the_dagster_instance(rerun: Rerun) -> None:
    old = {r["id"] for r in rerun.runs_before}
    new = [r for r in rerun.runs_after if r["id"] not in old]
    assert new, "no new run in the instance"
    assert [r for r in new if r["partition"] == DAY and r["status"] == "SUCCESS" and "esg_ratings" in r["assets"]], new
