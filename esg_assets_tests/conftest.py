"""Fixtures shared by the suite: a job environment set in this process, a private storage
environment, the session's moto server (S3 and KMS) with a fresh bucket and key per test. Helpers
that test modules import live in esg_assets_tests/support/, not here."""

from __future__ import annotations

import base64
import os
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from esg_assets_tests.support.s3 import S3Env, free_port, moto_command


@pytest.fixture
def apply_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Set a job environment in this process (removing every other ESG_* variable)."""

    def apply(env: dict[str, str]) -> None:
        for name in list(os.environ):
            if name.startswith("ESG_"):
                monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)

    yield apply


# Variables of configuration.md that would leak the developer's own setup into a test.
_STORAGE_VARS = (
    "ESG_STATE_DB", "ESG_STORAGE", "ESG_OUTPUT_DIR", "ESG_FILE_ENCRYPTION_KEY", "ESG_S3_BUCKET",
    "ESG_S3_PREFIX", "ESG_S3_KMS_KEY_ID", "ESG_S3_ENDPOINT_URL", "ESG_RETENTION_DAYS",
    "ESG_AUDIT_ACTOR", "ESG_AUTHORIZED_READERS", "ESG_AUDIT_LOG", "ESG_LOG_DIR",
)


@pytest.fixture
def storage_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh DAGSTER_HOME with a random key; actor `job`, who is the only authorized reader."""
    for name in _STORAGE_VARS:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("ESG_FILE_ENCRYPTION_KEY", base64.b64encode(os.urandom(32)).decode())
    monkeypatch.setenv("ESG_AUDIT_ACTOR", "job")
    monkeypatch.setenv("ESG_AUTHORIZED_READERS", "job,analyst")
    return home


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """URL of a moto server started for this session on a free loopback port."""
    port = free_port()
    proc = subprocess.Popen(
        [*moto_command(), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"moto_server exited with status {proc.returncode}")
            try:
                with urllib.request.urlopen(url + "/moto-api/", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("moto_server did not answer within 30 s")
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def s3_env(moto_endpoint: str, storage_env: Path, monkeypatch: pytest.MonkeyPatch) -> S3Env:
    """A fresh bucket and KMS key on the moto server, with ESG_STORAGE=s3 pointing at them."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    env = S3Env(moto_endpoint, f"esg-{uuid.uuid4().hex[:12]}", "")
    env.client().create_bucket(Bucket=env.bucket)
    key_id = env.client("kms").create_key(Description="esg-ratings test")["KeyMetadata"]["KeyId"]
    env = S3Env(moto_endpoint, env.bucket, key_id)
    monkeypatch.setenv("ESG_STORAGE", "s3")
    monkeypatch.setenv("ESG_S3_BUCKET", env.bucket)
    monkeypatch.setenv("ESG_S3_KMS_KEY_ID", key_id)
    monkeypatch.setenv("ESG_S3_ENDPOINT_URL", moto_endpoint)
    return env
