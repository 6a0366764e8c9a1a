"""A TLS verification failure on any upstream is critical for the run (contract 1.1 §9), never
a day of Failed rows: here the token endpoint and the AMS verify fine (plain loopback), while the
ESG API serves a certificate (made by `cryptography` in conftest) that ESG_CA_BUNDLE does not
trust. The error names the host and nothing else."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import pytest

from esg_assets.resources.http import TlsVerificationError
from esg_assets_tests.support.job import fast_job_env, run_day
from esg_assets_tests.support.hostile_clients import clients
from esg_assets_tests.hostile.server import Answer, Hostile, always
from esg_assets_tests.support.tls import TlsFiles
from esg_assets_tests.support.cli import step_failure_messages
from esg_assets_tests.security.test_tls import no_output

ACCOUNTS = (b'{"data":[{"account_id":"A1","account_name":"One","status":"active",'
            b'"updated_at":"2026-11-01T00:00:00Z"}],"next_cursor":null}')
ANALYSIS = (b'{"account_id":"A1","analysis_date":"2026-11-20","scores":{"overall":1,"environmental":1,'
            b'"social":1,"governance":1},"primary_focus":{"pillar":"Social","score":1}}')


def _servers(tls_files: TlsFiles) -> tuple[Hostile, Hostile]:
    plain = Hostile(ams=always(Answer(200, ACCOUNTS)))
    esg = Hostile(analysis=always(Answer(200, ANALYSIS)), feed=always(Answer(200, b'{"data":[],"next_cursor":null}')),
                  tls=(tls_files.server_cert, tls_files.server_key))
    return plain, esg


def _env(plain: Hostile, esg: Hostile, tls_files: TlsFiles) -> dict[str, str]:
    return {**plain.env(), "ESG_API_BASE_URL": esg.env()["ESG_API_BASE_URL"], "ESG_CA_BUNDLE": str(tls_files.other_ca)}


def test_an_unverifiable_esg_api_certificate_is_critical_naming_the_host(tls_files: TlsFiles) -> None:
    plain, esg = _servers(tls_files)
    with plain.running(), esg.running():
        env = _env(plain, esg, tls_files)
        with clients(plain, ESG_API_BASE_URL=env["ESG_API_BASE_URL"], ESG_CA_BUNDLE=env["ESG_CA_BUNDLE"]) as up:
            host = env["ESG_API_BASE_URL"].split("//")[1].split("/")[0]
            with pytest.raises(TlsVerificationError, match=f"verification failed for {host}"):
                up.esg.fetch_analysis("A1")
            with pytest.raises(TlsVerificationError):
                list(up.esg.changed_accounts(datetime(2026, 11, 1, tzinfo=timezone.utc)))
    assert esg.count("analysis") == 0  # the handshake failed: nothing was answered


@pytest.mark.integration
def test_the_run_fails_as_critical_with_no_file(tls_files: TlsFiles, tmp_path: Path, apply_env) -> None:
    plain, esg = _servers(tls_files)
    home = tmp_path / "home"
    with plain.running(), esg.running():
        apply_env(fast_job_env(home, _env(plain, esg, tls_files)))
        with dg.instance_for_test(temp_dir=str(home)) as instance:
            result = run_day(instance=instance)
    assert not result.success
    messages = step_failure_messages(result)
    assert any("critical: TLS certificate verification failed for 127.0.0.1:" in m for m in messages), messages
    assert no_output(home)
