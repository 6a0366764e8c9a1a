"""TLS towards the upstream: the whole pipeline over HTTPS to the sandbox, verified against
`ESG_CA_BUNDLE`; an untrusted certificate fails the run cleanly; plain http to a non-loopback
host is refused before any traffic."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import requests

from esg_assets_tests.support.job import PARTITION, fast_job_env, read_output, run_day
from esg_assets_tests.sandbox.harness import SandboxProcess
from esg_assets_tests.support.tls import TlsFiles
from esg_assets_tests.support.cli import step_failure_messages

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def https_sandbox(tls_files: TlsFiles):
    with SandboxProcess(accounts=12, seed=4, today=PARTITION, tls_cert=tls_files.server_cert,
                        tls_key=tls_files.server_key, ca_bundle=tls_files.ca_cert) as sb:
        yield sb


def no_output(home: Path) -> bool:
    out = home / "output"
    return not out.exists() or not any(out.iterdir())


def test_sandbox_serves_https_only(https_sandbox: SandboxProcess, tls_files: TlsFiles) -> None:
    assert https_sandbox.url.startswith("https://127.0.0.1:")
    assert "sandbox listening on https://" in https_sandbox.output()
    assert requests.get(f"{https_sandbox.url}/_sandbox/health", verify=str(tls_files.ca_cert), timeout=5).ok
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{https_sandbox.url}/_sandbox/health", verify=str(tls_files.other_ca), timeout=5)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{https_sandbox.port}/_sandbox/health", timeout=5)


def test_pipeline_over_https_with_the_ca_bundle(https_sandbox: SandboxProcess, tmp_path: Path, apply_env) -> None:
    home = tmp_path / "home"
    env = fast_job_env(home, https_sandbox.env())
    assert env["ESG_CA_BUNDLE"] and env["ESG_API_BASE_URL"].startswith("https://")
    apply_env(env)
    start = https_sandbox.next_index()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        assert run_day(instance=instance).success
    ratings = read_output(PARTITION, "ratings").decode()
    assert len(ratings.splitlines()) == 1 + 12
    kinds = {r["kind"] for r in https_sandbox.requests(start)}
    assert {"token", "ams", "analysis"} <= kinds


def test_untrusted_certificate_fails_the_run_without_output(
    https_sandbox: SandboxProcess, tls_files: TlsFiles, tmp_path: Path, apply_env
) -> None:
    home = tmp_path / "home"
    apply_env(fast_job_env(home, {**https_sandbox.env(), "ESG_CA_BUNDLE": str(tls_files.other_ca)}))
    start = https_sandbox.next_index()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        result = run_day(instance=instance)
    assert not result.success
    messages = step_failure_messages(result)
    assert any("critical" in m and "certificate verification failed" in m for m in messages), messages
    assert no_output(home)
    # The handshake fails before any HTTP request reaches the server's handlers.
    assert https_sandbox.requests(start) == []


def test_plain_http_to_a_remote_host_is_refused_before_any_traffic(
    https_sandbox: SandboxProcess, tmp_path: Path, apply_env
) -> None:
    home = tmp_path / "home"
    apply_env(fast_job_env(home, {**https_sandbox.env(), "ESG_AMS_BASE_URL": "http://ams.example.com/ams"}))
    start = https_sandbox.next_index()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        result = run_day(instance=instance)
    assert not result.success
    assert any("ESG_AMS_BASE_URL uses plain http://" in m for m in step_failure_messages(result))
    assert https_sandbox.requests(start) == []
    assert no_output(home)
    assert not (home / "esg_state.duckdb").exists()
