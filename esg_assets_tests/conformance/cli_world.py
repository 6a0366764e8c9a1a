"""The world and helpers of the command-line conformance tests (test_cli_*.py): six accounts with
distinctive names and their expected CSV rows written out by hand, the variables of
configuration.md with the store and state DB left at their defaults, and small helpers that read
what the job left behind (store, state DB, audit log, Dagster runs) the way an outsider would."""

from __future__ import annotations

import hashlib
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any


from esg_assets_tests.conformance import worlds as w
from esg_assets_tests.conformance.harness import BIN, files_get, job_env, parallel, sh
from esg_assets_tests.conformance.upstream import Entry, Reply, Upstream, World


DAY = "2026-11-23"
NO_FILE_DAY = "2026-11-22"
KINDS = ("ratings", "errors", "summary", "report")
LOGICAL = {"ratings": "FirmESGRatings_20261123.csv", "errors": "FirmESGErrors_20261123.csv",
           "summary": "FirmESGSummary_20261123.json", "report": "FirmESGReport_20261123.html"}
NAMES = {
    "CLI-004": "Vexlar Endowment", "CLI-001": "Quillfeather Pension Trust", "CLI-006": "Zephyrine Charitable Foundation",
    "CLI-002": "Marrowind Capital, LLC", "CLI-005": "Brightwater Holdings", "CLI-003": "Ostrander Family Office",
}  # AMS page order (unsorted on purpose)
NA7 = "N/A,N/A,N/A,N/A,N/A,N/A,N/A"
DAY_ROWS = [
    "CLI-001,Quillfeather Pension Trust,61.12,62.00,63.00,64.00,Social,63.00,2026-11-23,Successful",
    'CLI-002,"Marrowind Capital, LLC",50.00,50.00,50.00,50.00,Environmental,50.00,2026-11-23,Successful',
    f"CLI-003,Ostrander Family Office,{NA7},Failed",
    "CLI-004,Vexlar Endowment,N/A,40.00,41.00,42.00,Governance,42.00,2026-11-23,Partial",
    "CLI-005,Brightwater Holdings,77.78,70.00,80.00,90.00,Governance,90.00,2026-11-23,Successful",
    "CLI-006,Zephyrine Charitable Foundation,12.35,1.00,2.00,3.00,Environmental,1.00,2026-11-23,Successful",
]
# The targeted rerun re-asks CLI-001 (Successful: new scores), CLI-003 (Failed: now Successful)
# and CLI-005 (Successful: now a final 404, so Failed).
RERUN_ROWS = {
    "CLI-001": "CLI-001,Quillfeather Pension Trust,90.01,80.00,70.00,60.00,Environmental,80.00,2026-11-23,Successful",
    "CLI-003": "CLI-003,Ostrander Family Office,55.56,44.44,33.34,22.23,Governance,22.23,2026-11-23,Successful",
    "CLI-005": f"CLI-005,Brightwater Holdings,{NA7},Failed",
}


def the_world() -> World:
    analyses = {
        "CLI-001": [w.ok("CLI-001", "61.115", "62", "63", "64", "Social", "63", DAY)],
        "CLI-002": [w.ok("CLI-002", "50", "50.0", "50.00", "50", "Environmental", "50", DAY)],
        "CLI-003": [Reply(404, '{"error": "not_covered"}')],
        "CLI-004": [Reply(200, w.analysis("CLI-004", w.four(None, "40", "41", "42"), w.focus("Governance", "42"), DAY))],
        "CLI-005": [w.ok("CLI-005", "77.775", "70", "80", "90", "Governance", "90", DAY)],
        "CLI-006": [w.ok("CLI-006", "12.345", "1", "2", "3", "Environmental", "1", DAY)],
    }
    return World(accounts=[w.acct(aid, name) for aid, name in NAMES.items()], analyses=analyses, expires_in=3600)


def rerun_world() -> World:
    world = the_world()
    world.analyses["CLI-001"] = [w.ok("CLI-001", "90.005", "80", "70", "60", "Environmental", "80", DAY)]
    world.analyses["CLI-003"] = [w.ok("CLI-003", "55.555", "44.444", "33.335", "22.225", "Governance", "22.225", DAY)]
    world.analyses["CLI-005"] = [Reply(404, '{"error": "not_covered"}')]
    return world


# ---- small helpers ------------------------------------------------------------------------------
def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return sh([str(BIN / "esg-ratings"), *args], env)


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_clear_one_line_error(done: subprocess.CompletedProcess[str]) -> bool:
    """Non-zero exit with one short line of explanation (docs/configuration.md: "Errors are one
    line on stderr"), no traceback."""
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    return done.returncode != 0 and len(lines) == 1 and len(lines[0]) < 300 and "Traceback" not in done.stderr


def contract_env(home: Path, upstream: Upstream, **extra: str) -> dict[str, str]:
    """The harness's variables, but the store and the state DB left to their defaults
    (configuration.md: `$DAGSTER_HOME/output`, `$DAGSTER_HOME/esg_state.duckdb`), plus the two
    alert secrets, so that the scans below look for them too. The PagerDuty channel points at the
    test server: a run started from the CLI (no daemon) must not post anything there (§8)."""
    env = job_env(home, upstream, ESG_SMTP_PASSWORD="smtp-" + secrets.token_hex(12),
                  ESG_PAGERDUTY_ROUTING_KEY="R" + secrets.token_hex(15),
                  ESG_PAGERDUTY_EVENTS_URL=f"http://127.0.0.1:{upstream.port}/pagerduty/v2/enqueue", **extra)
    del env["ESG_OUTPUT_DIR"], env["ESG_STATE_DB"]
    return env


def secrets_of(env: dict[str, str]) -> list[str]:
    names = ("ESG_CLIENT_SECRET", "ESG_FILE_ENCRYPTION_KEY", "ESG_SMTP_PASSWORD", "ESG_PAGERDUTY_ROUTING_KEY")
    return [env[n] for n in names if env.get(n)]


def store_of(env: dict[str, str]) -> Path:
    return Path(env.get("ESG_OUTPUT_DIR") or Path(env["DAGSTER_HOME"]) / "output")


def state_db_of(env: dict[str, str]) -> Path:
    return Path(env.get("ESG_STATE_DB") or Path(env["DAGSTER_HOME"]) / "esg_state.duckdb")


def audit_log_of(env: dict[str, str]) -> Path:
    # docs/security.md: `ESG_AUDIT_LOG`, by default beside the state DB as `esg_audit.jsonl`.
    return state_db_of(env).parent / "esg_audit.jsonl"


def audit_lines(env: dict[str, str], *args: str) -> list[str]:
    done = cli(env, "audit", "show", *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return [line for line in done.stdout.splitlines() if line.strip()]


def get_all(env: dict[str, str], out: Path) -> dict[str, bytes]:
    def one(kind: str) -> bytes:
        done = files_get(env, DAY, kind, out / kind)
        assert done.returncode == 0, done.stdout + done.stderr
        return (out / kind / LOGICAL[kind]).read_bytes()

    return dict(zip(KINDS, parallel(one, KINDS)))


def dagster_runs(env: dict[str, str]) -> list[dict[str, Any]]:
    """The runs of the instance at DAGSTER_HOME, read through Dagster's own instance API (in this
    process: the test process has Dagster loaded already, a `python -c` child paid 2 CPU-s for it)."""
    import dagster as dg

    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        def assets(run_id: str) -> list[str]:
            events = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
            return sorted({e.dagster_event.asset_key.to_user_string() for e in events if e.dagster_event})

        return [{"id": r.run_id, "status": r.status.value, "partition": r.tags.get("dagster/partition"),
                 "assets": assets(r.run_id)} for r in instance.get_runs()]


# ---- the targeted rerun (§7) through `esg-ratings rerun` ---------------------------------------------
@dataclass
class Rerun:
    done: subprocess.CompletedProcess[str]
    log: list[Entry]
    files: dict[str, bytes]
    runs_before: list[dict[str, Any]]
    runs_after: list[dict[str, Any]]


@dataclass
class Refused:
    unknown: Rerun  # an ID that is not an active account of D
    unconfigured: Rerun  # ESG_CLIENT_SECRET missing: "stops the run at its start" (configuration.md)
    before: dict[str, bytes]


def rerun_day(server: Upstream, env: dict[str, str], out: Path | None, *accounts: str) -> Rerun:
    """`esg-ratings rerun DAY --account ...`, the server log it caused and, with `out`, every file
    of the day afterwards and the instance's runs before and after."""
    before = dagster_runs(env) if out else []
    first = len(server.entries())
    args = [a for aid in accounts for a in ("--account", aid)]
    done = cli(env, "rerun", DAY, *args)
    log = server.entries(since=first)
    return Rerun(done, log, get_all(env, out), before, dagster_runs(env)) if out else Rerun(done, log, {}, [], [])
