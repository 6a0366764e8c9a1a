"""No secret reaches a file, a log or an event: after a run with retries, timeouts and a forced
token refresh, plus `files get` and `audit show`, every file under DAGSTER_HOME (instance DB,
event logs, compute logs, output store, audit log, state DB, logs dir), the plain file written by
`files get`, the captured stdout/stderr and the run's Dagster events are scanned for the client
secret, every token the sandbox issued, the encryption keys (master and derived; raw, hex and
base64), the SMTP password and the PagerDuty routing key."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import dagster as dg
import pytest
from dagster._serdes import serialize_value

from esg_assets.storage.crypto import derive_key
from esg_assets_tests.support.job import PARTITION, fast_job_env, run_day
from esg_assets_tests.sandbox.harness import SandboxProcess
from esg_assets_tests.support.cli import run_cli

pytestmark = pytest.mark.integration

SCRIPTS = {
    "ACC-0000002": ["503", "ok"],  # a retry
    "ACC-0000003": ["timeout", "ok"],  # a read timeout, then success
    "ACC-0000004": ["401", "ok"],  # 401 with a valid token: the client must refresh and re-send
    "ACC-0000005": ["503"],  # persistent: a Failed row with an error message
    "ACC-0000006": ["invalid-json"],
}


def key_forms(master_b64: str) -> dict[str, bytes]:
    """Every form in which the encryption key material could leak."""
    master = base64.b64decode(master_b64)
    forms = {"master base64": master_b64.encode(), "master hex": master.hex().encode(), "master raw": master}
    for purpose in ("files", "state-db"):
        derived = derive_key(master, purpose)
        forms[f"{purpose} raw"] = derived
        forms[f"{purpose} hex"] = derived.hex().encode()
        forms[f"{purpose} base64"] = base64.b64encode(derived)
    return forms


def scan(blobs: dict[str, bytes], needles: dict[str, bytes]) -> list[str]:
    """`what leaked where` for every needle found (case-insensitive for the text forms)."""
    found = []
    for where, blob in blobs.items():
        lowered = blob.lower()
        for what, needle in needles.items():
            if needle in blob or (needle.isascii() and needle.lower() in lowered):
                found.append(f"{what} in {where}")
    return found


def files_under(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root.parent)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_no_secret_in_any_file_log_or_event(tmp_path: Path, apply_env, capfd: pytest.CaptureFixture[str]) -> None:
    client_secret = "cs-" + secrets.token_urlsafe(24)
    smtp_password = "smtp-" + secrets.token_urlsafe(18)
    routing_key = "R0" + secrets.token_hex(15)
    home = tmp_path / "home"
    with SandboxProcess(accounts=15, seed=8, today=PARTITION, timeout_delay=2,
                        client_secret=client_secret) as sb:
        env = fast_job_env(home, sb.env(), ESG_SMTP_PASSWORD=smtp_password,
                           ESG_SMTP_USER="esg-alerts", ESG_PAGERDUTY_ROUTING_KEY=routing_key,
                           ESG_AUDIT_ACTOR="esg-job", ESG_AUTHORIZED_READERS="esg-job")
        apply_env(env)
        (home / "logs").mkdir()
        (home / "logs" / "job.log").write_text("a log file the retention step also manages\n")
        sb.script(SCRIPTS)
        with dg.instance_for_test(temp_dir=str(home)) as instance:
            result = run_day(instance=instance)
            assert result.success
            events = [serialize_value(e) for e in instance.all_logs(result.run_id)]
            messages = [e.message or "" for e in result.all_events]
        tokens = sb.tokens()
        stats = sb.stats()
    run_out, run_err = capfd.readouterr()
    assert len(tokens) >= 2, "the 401 re-send must have refreshed the token"
    assert stats["by_status"].get("401", 0) >= 1

    out_dir = tmp_path / "plain"
    code, get_out, get_err = run_cli(capfd, "files", "get", PARTITION, "--kind", "errors", "--out", str(out_dir))
    assert code == 0, get_err
    code, show_out, show_err = run_cli(capfd, "audit", "show")
    assert code == 0 and '"action":"read"' in show_out

    blobs = {**files_under(home), **files_under(out_dir)}
    assert any(name.endswith(".enc") for name in blobs) and any("esg_state.duckdb" in n for n in blobs)
    assert any("esg_audit.jsonl" in n for n in blobs) and any(n.endswith(".db") for n in blobs)
    blobs.update({
        "run stdout": run_out.encode(), "run stderr": run_err.encode(),
        "files get output": (get_out + get_err).encode(), "audit show output": (show_out + show_err).encode(),
        "dagster events": "\n".join(events).encode(), "dagster event messages": "\n".join(messages).encode(),
    })
    needles = {"client secret": client_secret.encode(), "SMTP password": smtp_password.encode(),
               "PagerDuty routing key": routing_key.encode(), **key_forms(env["ESG_FILE_ENCRYPTION_KEY"])}
    needles.update({f"token #{i + 1}": t.encode() for i, t in enumerate(tokens)})
    assert scan(blobs, needles) == []
    # The scan itself works: a planted token or hex key would be found.
    assert scan({"planted": b"x" + tokens[-1].encode() + b"y"}, needles) == ["token #%d in planted" % len(tokens)]
    assert scan({"planted": needles["state-db hex"].upper()}, needles) == ["state-db hex in planted"]
    # And the blobs are real: the plain errors file names the failed account.
    assert b"ACC-0000005" in blobs[str(Path("plain") / "FirmESGErrors_20261120.csv")]
