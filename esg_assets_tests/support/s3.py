"""S3 and KMS for the tests: the moto server's command line and a test's bucket and key on it."""

from __future__ import annotations

import shutil
import socket
import sys
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def moto_command() -> list[str]:
    script = Path(sys.executable).with_name("moto_server")
    if script.exists():
        return [str(script)]
    found = shutil.which("moto_server")
    # moto[server] is a test dependency: its absence is a broken setup, not a reason to skip.
    assert found is not None, "moto_server is not installed: make test installs moto[server]"
    return [found]


@dataclass(frozen=True)
class S3Env:
    endpoint: str
    bucket: str
    kms_key_id: str

    def client(self, service: str = "s3"):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1")
