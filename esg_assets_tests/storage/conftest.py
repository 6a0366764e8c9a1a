"""Fixtures of the storage tests: a private environment for `load_storage()`, and a real moto
server on loopback (session-wide, reusable by any test that needs S3 or KMS)."""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from esg_assets.settings import StorageSettings, load_storage

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


@pytest.fixture
def settings(storage_env: Path) -> StorageSettings:
    return load_storage()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _moto_command() -> list[str]:
    script = Path(sys.executable).with_name("moto_server")
    if script.exists():
        return [str(script)]
    found = shutil.which("moto_server")
    # moto[server] is a test dependency: its absence is a broken setup, not a reason to skip.
    assert found is not None, "moto_server is not installed: make test installs moto[server]"
    return [found]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """URL of a moto server started for this session on a free loopback port."""
    port = _free_port()
    proc = subprocess.Popen(
        [*_moto_command(), "-H", "127.0.0.1", "-p", str(port)],
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


@dataclass(frozen=True)
class S3Env:
    endpoint: str
    bucket: str
    kms_key_id: str

    def client(self, service: str = "s3"):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1")


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
