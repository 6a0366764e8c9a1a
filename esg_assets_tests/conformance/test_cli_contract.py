"""The job driven from the command line as configuration.md says, checked against configuration.md
and output-and-behaviour.md §9 alone, the way an outside suite would: no secret in any output or
file; `esg-ratings files get` (every kind, the default kind, bad input, an unauthorized actor);
the local secure store (modes, `.enc` names, no plaintext, the state DB encrypted); the audit
chain (`audit show` with its filters, `audit verify` on an intact, an edited and a shortened log);
then the targeted rerun through `esg-ratings rerun` (§7): exactly the named accounts called, other
rows byte-identical, an unknown ID, a missing variable and a day never run refused before any call,
the rebuilt files stored and audited as the first ones, the run recorded in the Dagster instance.
One day (conftest.py's) for all of them: the rerun changes its files, so its tests come last.
Bad variables: test_cli_config.py; the sandbox: test_cli_sandbox.py."""

from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import stat
import subprocess
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from esg_assets_tests.conformance.cli_world import (
    DAY, NO_FILE_DAY, KINDS, LOGICAL, NAMES, DAY_ROWS, RERUN_ROWS, Refused, Rerun, cli, files_under, sha256,
    is_clear_one_line_error, secrets_of, store_of, state_db_of, audit_log_of, audit_lines, get_all,
)
from esg_assets_tests.conformance import worlds as w
from esg_assets_tests.conformance.harness import BIN, Day, files_get, parallel, rows, sh
from esg_assets_tests.conformance.upstream import Upstream

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def test_the_day_itself(day: Day) -> None:
    # The base every other check stands on: the run succeeded and wrote the expected file.
    assert day.files["ratings"] == w.csv_text(DAY_ROWS)
    assert day.summary["status_counts"] == {"Successful": 4, "Partial": 1, "Failed": 1}
    assert [e.path for e in day.log if e.kind == "other"] == []  # nothing posted to the PagerDuty URL


def test_no_secret_in_output_or_any_file(day: Day, env: dict[str, str]) -> None:
    # §9: secrets never reach logs, metadata, files or error messages.
    found = []
    texts = [day.done.stdout, day.done.stderr]
    blobs = [(p, p.read_bytes()) for p in files_under(Path(env["DAGSTER_HOME"]))]
    for i, secret in enumerate([*secrets_of(env), *day.tokens]):  # secrets_of first, then the tokens
        found += [f"stdout/stderr: secret #{i}" for t in texts if secret in t]
        found += [f"{p}: secret #{i}" for p, data in blobs if secret.encode() in data]
    assert found == []


# ---- esg-ratings files get ---------------------------------------------------------------------------
def test_files_get_writes_each_kind_under_its_logical_name(day: Day, env: dict[str, str], tmp_path: Path) -> None:
    got = get_all(env, tmp_path)
    for kind in KINDS:
        assert sorted(p.name for p in (tmp_path / kind).iterdir()) == [LOGICAL[kind]], kind
    assert got["ratings"] == day.files["ratings"] == w.csv_text(DAY_ROWS)
    assert got["errors"] == day.files["errors"] and got["errors"].startswith(b"Account ID,Attempts,")
    assert json.loads(got["summary"])["partition"] == DAY
    assert b"<html" in got["report"].lower()
    # --kind defaults to ratings
    default = sh([str(BIN / "esg-ratings"), "files", "get", DAY, "--out", str(tmp_path / "default")], env)
    assert default.returncode == 0, default.stdout + default.stderr
    assert [p.name for p in (tmp_path / "default").iterdir()] == [LOGICAL["ratings"]]
    assert (tmp_path / "default" / LOGICAL["ratings"]).read_bytes() == got["ratings"]


BAD_GETS = [  # (label, date, kind, a piece of the bad input the message should name)
    ("impossible-date", "2026-02-30", "ratings", "2026-02-30"),
    ("compact-date", "20261123", "ratings", "20261123"),
    ("trailing-junk", "2026-11-23x", "ratings", "2026-11-23x"),
    ("unknown-kind", DAY, "pdf", "pdf"),
    ("no-file-that-day", NO_FILE_DAY, "ratings", NO_FILE_DAY),
    ("dotdot-date", "../2026-11-23", "ratings", "../2026-11-23"),
    ("dotdot-kind", DAY, "../../ratings", "../../ratings"),
    ("slash-date", "2026-11-23/../../x", "ratings", "2026-11-23/../../x"),
]


def test_files_get_refuses_bad_input_and_writes_nothing(day: Day, env: dict[str, str], tmp_path: Path) -> None:
    def one(case: tuple[str, str, str, str]) -> tuple[str, subprocess.CompletedProcess[str]]:
        label, partition, kind, _ = case
        out = tmp_path / label / "out"
        out.mkdir(parents=True)
        return label, files_get(env, partition, kind, out)

    results = dict(parallel(one, BAD_GETS))
    problems = []
    for label, _, _, named in BAD_GETS:
        done = results[label]
        if not is_clear_one_line_error(done):
            problems.append(f"{label}: exit {done.returncode}, {(done.stdout + done.stderr)[-500:]!r}")
        elif named not in done.stderr and named.replace("-", "") not in done.stderr:
            problems.append(f"{label}: the message does not name {named!r}: {done.stderr.strip()!r}")
    assert problems == []
    assert files_under(tmp_path) == []  # nothing written, in DIR or beside it


def test_files_get_refuses_an_actor_who_is_not_an_authorized_reader(day: Day, env: dict[str, str], tmp_path: Path) -> None:
    cases = [  # (label, extra variables, allowed)
        ("someone-else", {"ESG_AUDIT_ACTOR": "someone-else"}, False),  # readers default to the OS user
        ("carol", {"ESG_AUDIT_ACTOR": "carol", "ESG_AUTHORIZED_READERS": "alice,bob"}, False),
        ("bob", {"ESG_AUDIT_ACTOR": "bob", "ESG_AUTHORIZED_READERS": "alice,bob"}, True),
    ]

    def one(case: tuple[str, dict[str, str], bool]) -> subprocess.CompletedProcess[str]:
        label, extra, _ = case
        return files_get({**env, **extra}, DAY, "ratings", tmp_path / label)

    for (label, _, allowed), done in zip(cases, parallel(one, cases)):
        if allowed:
            assert done.returncode == 0, done.stdout + done.stderr
            assert (tmp_path / label / LOGICAL["ratings"]).read_bytes() == day.files["ratings"]
        else:
            assert done.returncode != 0, label
            assert files_under(tmp_path / label) == [], label
            assert "Traceback" not in done.stderr and done.stderr.strip(), label
    lines = audit_lines(env)
    for actor in ("someone-else", "carol"):
        refused = [x for x in lines if actor in x and LOGICAL["ratings"] in x and "refus" in x.lower()]
        assert refused, f"no audited refusal for {actor}"
    assert [x for x in lines if "bob" in x and LOGICAL["ratings"] in x and "read" in x and "refus" not in x.lower()]


# ---- §9 local store ------------------------------------------------------------------------------------
def test_store_modes_enc_names_and_no_plaintext(day: Day, env: dict[str, str]) -> None:
    store = store_of(env)
    assert stat.S_IMODE(store.stat().st_mode) == 0o700 and store.stat().st_uid == os.getuid()
    entries = sorted(p for p in store.iterdir())
    assert {LOGICAL[k] + ".enc" for k in KINDS} <= {p.name for p in entries}
    plain_marks = [aid.encode() for aid in NAMES] + [n.encode() for n in NAMES.values()] + [b"Account ID", b'"partition"']
    for path in entries:
        assert path.is_file() and path.name.endswith(".enc"), path.name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, (path.name, oct(path.stat().st_mode))
        assert path.stat().st_uid == os.getuid(), path.name
        data = path.read_bytes()
        assert [m for m in plain_marks if m in data] == [], path.name


def test_state_db_holds_no_plaintext(day: Day, env: dict[str, str]) -> None:
    db = state_db_of(env)
    files = [p for p in db.parent.iterdir() if p.name.startswith(db.name)]
    assert db in files
    marks = [n.encode() for n in NAMES.values()] + [n.split()[0].encode() for n in NAMES.values()]
    for path in files:
        data = path.read_bytes()
        assert [m for m in marks if m in data] == [], path.name
    # §9: encrypted with DuckDB's own database encryption, so DuckDB will not open it without a key.
    import duckdb

    with pytest.raises(duckdb.Error, match="(?i)encrypt"):
        duckdb.connect(str(db), read_only=True).close()


# ---- §9 audit --------------------------------------------------------------------------------------------
def test_audit_show_lists_writes_and_reads_one_per_line(day: Day, env: dict[str, str], started: datetime, tmp_path: Path) -> None:
    report = files_get(env, DAY, "report", tmp_path)  # a read by `files get`, audited
    assert report.returncode == 0, report.stdout + report.stderr
    plain = {**day.files, "report": (tmp_path / LOGICAL["report"]).read_bytes()}  # the others: read by `day`
    lines = audit_lines(env)
    log = audit_log_of(env)
    assert len(lines) == len([x for x in log.read_text(encoding="utf-8").splitlines() if x.strip()])
    assert all(re.search(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}", x) for x in lines), "a record without its time"
    me = getpass.getuser()
    for kind in KINDS:
        name, digest = LOGICAL[kind], sha256(plain[kind])
        writes = [x for x in lines if name in x and "write" in x and digest in x]
        reads = [x for x in lines if name in x and "read" in x and digest in x and me in x]
        assert writes, f"no audited write of {name} with its content SHA-256"
        assert reads, f"no audited read of {name} by {me} with its content SHA-256"
    first, last = started.date() - timedelta(days=1), datetime.now(UTC).date() + timedelta(days=1)
    filters = [("--since", first.isoformat(), "--until", last.isoformat()), ("--since", first.isoformat()),
               ("--until", first.isoformat()), ("--since", last.isoformat())]
    both, since_only, until_before, since_after = parallel(lambda args: audit_lines(env, *args), filters)
    assert both == lines and since_only == lines
    assert until_before == [] and since_after == []


def _record_names(line: str, index: int) -> list[str]:
    """The ways a message may name the record on line `index` (0-based) of the log."""
    names = [rf"\bline {index + 1}\b"]
    try:
        seq = json.loads(line)["seq"]
        names += [rf"\bseq[ =:#]*{seq}\b", rf"\brecord[ #]*{seq}\b", rf"#{seq}\b"]
    except (ValueError, KeyError, TypeError):
        pass
    return names


def test_audit_verify_intact_then_edited_or_removed(day: Day, env: dict[str, str], tmp_path: Path) -> None:
    intact = cli(env, "audit", "verify")
    assert intact.returncode == 0, intact.stdout + intact.stderr
    log = audit_log_of(env)
    lines = log.read_bytes().splitlines(keepends=True)
    assert len(lines) >= 5
    mid = len(lines) // 2

    def edited(copy: list[bytes]) -> list[bytes]:
        line = copy[mid].decode()
        at = re.search(r"[0-9a-f]{64}", line)
        assert at, line
        i = at.start()
        copy[mid] = (line[:i] + ("0" if line[i] != "0" else "1") + line[i + 1:]).encode()
        return copy

    cases: dict[str, tuple[Callable[[list[bytes]], list[bytes]], list[str]]] = {
        "edit-one-byte": (edited, _record_names(lines[mid].decode(), mid)),
        "remove-middle": (lambda c: c[:mid] + c[mid + 1:],
                          _record_names(lines[mid].decode(), mid) + _record_names(lines[mid + 1].decode(), mid)),
        "remove-first": (lambda c: c[1:], _record_names(lines[0].decode(), 0) + _record_names(lines[1].decode(), 0)),
        "remove-last": (lambda c: c[:-1], []),
    }

    def one(label: str) -> subprocess.CompletedProcess[str]:
        copy = tmp_path / label
        copy.mkdir(mode=0o700)
        for companion in log.parent.glob(log.name + "*"):  # the log and its head file
            shutil.copy2(companion, copy / companion.name)
        change, _ = cases[label]
        (copy / log.name).write_bytes(b"".join(change(list(lines))))
        return cli({**env, "ESG_STATE_DB": str(copy / "esg_state.duckdb")}, "audit", "verify")

    for label, done in zip(cases, parallel(one, cases)):
        message = done.stdout + done.stderr
        assert done.returncode != 0, (label, message)
        names = cases[label][1]
        assert not names or any(re.search(n, message) for n in names), (label, names, message)
        print(f"audit verify, {label}: exit {done.returncode}: {message.strip()}")


# ---- §7 targeted rerun through `esg-ratings rerun` (last: it changes the day's files) ------------------
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
    assert called == {"CLI-001": 1, "CLI-003": 1, "CLI-005": 1}  # a final 404 is not retried


def test_rerun_rebuilds_the_files_and_keeps_every_other_row(day: Day, rerun: Rerun, env: dict[str, str],
                                                            refused_rerun: Refused) -> None:
    expected = [RERUN_ROWS.get(line.split(",", 1)[0], line) for line in DAY_ROWS]
    assert rerun.files["ratings"] == w.csv_text(expected)
    assert [r[:4] for r in rows(rerun.files["errors"])[1:]] == [["CLI-004", "1", "partial_data", "200"],
                                                                 ["CLI-005", "1", "not_found", "404"]]
    s = json.loads(rerun.files["summary"])
    assert s["status_counts"] == {"Successful": 4, "Partial": 1, "Failed": 1}
    assert s["failed_accounts"] == ["CLI-005"] and s["call_failure_rate"] == 0.1667
    # The day's own counts (every account was called that day: the feed answers 501) ...
    assert (s["accounts_called"], s["carried_forward"], s["total_accounts"]) == (6, 0, 6)
    # ... and the API requests of the rerun itself.
    assert s["api"]["requests"] == len([e for e in rerun.log if e.kind in ("analysis", "feed")])
    # §3b: the report shows the failed accounts: CLI-003 no longer, CLI-005 now.
    before = refused_rerun.before
    assert b"CLI-003" in before["report"] and b"CLI-003" not in rerun.files["report"]
    assert b"CLI-005" not in before["report"] and b"CLI-005" in rerun.files["report"]
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
